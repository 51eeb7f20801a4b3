/* gridmarket — holistic map (网格化营销全息视图). Plain ES2020, no build step. */
'use strict';

(() => {
  // ---------------------------------------------------------------- texts

  const I18N = {
    'zh-CN': {
      'app.title': '网格化营销全息视图',
      'header.city': '城市',
      'header.logout': '退出登录',
      'login.title': '登录',
      'login.subtitle': '政企客户网格化营销与市场空间信息系统',
      'login.username': '用户名',
      'login.password': '密码',
      'login.submit': '登录',
      'login.busy': '正在登录…',
      'login.err.missing': '请输入用户名和密码',
      'login.err.bad': '用户名或密码错误',
      'login.err.rate': '登录失败次数过多，请稍后再试',
      'login.err.server': '服务器暂时不可用，请稍后再试',
      'login.err.net': '无法连接服务器，请检查网络',
      'login.err.expired': '登录已过期，请重新登录',
      'metric.penetration': '客户渗透率',
      'legend.sub': '五分位分级 · 网格单元数',
      'legend.nodata': '无数据',
      'map.loading': '正在加载地图…',
      'map.error': '地图数据加载失败',
      'map.nocity': '您的权限范围内暂无城市数据',
      'map.nocells': '该城市暂无网格单元',
      'map.zoomin': '放大',
      'map.zoomout': '缩小',
      'panel.close': '关闭',
      'panel.overview': '全市概况',
      'panel.hint': '点击地图上的网格单元查看详情',
      'panel.cells': '网格单元',
      'panel.statusMix': '客户状态分布',
      'panel.share': '占比',
      'field.grid': '网格',
      'field.district': '区县',
      'field.type': '类型',
      'field.source': '来源',
      'field.units': '地址单元数',
      'field.surveyed': '已摸查',
      'field.demand': '有需求客户数',
      'field.coverage': '市场空间信息完整率',
      'field.penetration': '客户渗透率',
      'field.revenue': '网格收入（月）',
      'source.drawn': '划定单元',
      'source.h3': 'H3 生成单元',
      'type.none': '未分类',
      'type.specialist_market': '专业市场',
      'type.commercial_building': '商务楼宇',
      'type.street_shops': '沿街商铺',
      'type.industrial_park': '产业园区',
      'type.campus': '校园',
      'type.hospital': '医院',
      'type.hotel': '宾馆酒店',
      'type.government': '党政军',
      'type.residential': '住宅小区',
      'type.mixed': '综合',
      'status.stock': '存量',
      'status.competing': '竞争',
      'status.other_network': '他网',
      'status.potential': '潜在',
      'status.vacant': '空置',
      'status.unknown': '未摸查',
      'role.admin': '系统管理员',
      'role.city_manager': '地市政企部经理',
      'role.regional_head': '区局营销中心主任',
      'role.specialist_lead': '专业营销中心负责人',
      'role.grid_manager': '网格经理',
      'role.account_manager': '客户经理',
      'role.planner': '市场经理',
    },
    en: {
      'app.title': 'Grid Marketing Holistic View',
      'header.city': 'City',
      'header.logout': 'Log out',
      'login.title': 'Sign in',
      'login.subtitle': 'Government & enterprise grid marketing and market-space system',
      'login.username': 'Username',
      'login.password': 'Password',
      'login.submit': 'Sign in',
      'login.busy': 'Signing in…',
      'login.err.missing': 'Enter your username and password',
      'login.err.bad': 'Incorrect username or password',
      'login.err.rate': 'Too many failed attempts; please try again later',
      'login.err.server': 'The server is unavailable; please try again later',
      'login.err.net': 'Cannot reach the server; check your network',
      'login.err.expired': 'Your session has expired; please sign in again',
      'metric.penetration': 'Customer penetration',
      'legend.sub': 'Quintiles · number of cells',
      'legend.nodata': 'No data',
      'map.loading': 'Loading map…',
      'map.error': 'Could not load the map data',
      'map.nocity': 'No city in your scope yet',
      'map.nocells': 'This city has no grid cells yet',
      'map.zoomin': 'Zoom in',
      'map.zoomout': 'Zoom out',
      'panel.close': 'Close',
      'panel.overview': 'City overview',
      'panel.hint': 'Click a grid cell on the map to see its details',
      'panel.cells': 'Grid cells',
      'panel.statusMix': 'Customer status mix',
      'panel.share': 'Share',
      'field.grid': 'Grid',
      'field.district': 'District',
      'field.type': 'Type',
      'field.source': 'Source',
      'field.units': 'Address units',
      'field.surveyed': 'Surveyed',
      'field.demand': 'Customers with demand',
      'field.coverage': 'Market-space info coverage',
      'field.penetration': 'Customer penetration',
      'field.revenue': 'Revenue (monthly)',
      'source.drawn': 'Drawn cell',
      'source.h3': 'H3 generated cell',
      'type.none': 'Unclassified',
      'type.specialist_market': 'Specialist market',
      'type.commercial_building': 'Commercial building',
      'type.street_shops': 'Street shops',
      'type.industrial_park': 'Industrial park',
      'type.campus': 'Campus',
      'type.hospital': 'Hospital',
      'type.hotel': 'Hotel',
      'type.government': 'Party / government / military',
      'type.residential': 'Residential',
      'type.mixed': 'Mixed',
      'status.stock': 'Stock',
      'status.competing': 'Competing',
      'status.other_network': 'Other network',
      'status.potential': 'Potential',
      'status.vacant': 'Vacant',
      'status.unknown': 'Not surveyed',
      'role.admin': 'Administrator',
      'role.city_manager': 'City manager',
      'role.regional_head': 'Regional head',
      'role.specialist_lead': 'Specialist lead',
      'role.grid_manager': 'Grid manager',
      'role.account_manager': 'Account manager',
      'role.planner': 'Planner',
    },
  };

  // texts of the cell card's matrix and address list, "my area" and the administration pages
  const I18N_MORE = {
    'zh-CN': {
      'nav.map': '全息地图',
      'nav.admin': '系统管理',
      'header.myArea': '我的区域',
      'area.title': '我的区域',
      'area.loading': '正在加载我的区域…',
      'area.error': '无法加载我的区域',
      'area.everything': '全部',
      'area.everythingNote': '您的权限覆盖全部城市与区域',
      'area.wholeCity': '全市',
      'area.cities': '城市',
      'area.districts': '区县',
      'area.grids': '网格',
      'area.featureGrids': '特征网格',
      'area.cells': '网格单元数',
      'area.customers': '直接负责客户',
      'area.legend': '橙色轮廓：您负责的网格单元',
      'area.more': '等 {n} 个',
      'area.noCells': '当前没有分配给您的网格单元',
      'card.featureGrids': '所属特征网格',
      'card.noFeatureGrids': '不属于任何特征网格',
      'card.matrix': '负责人（矩阵式销售组织）',
      'card.axisRegional': '区域营销（客户经理 / 网格经理）',
      'card.axisSpecialist': '专业营销（特征网格团队）',
      'card.nobody': '暂无负责人',
      'card.loading': '正在加载…',
      'card.loadError': '加载失败',
      'card.retry': '重试',
      'card.for': '负责',
      'card.since': '自',
      'via.cell': '单元客户经理',
      'via.grid': '网格经理',
      'via.feature_grid': '特征网格团队',
      'via.customer': '客户经理（客户）',
      'orgkind.city_dept': '地市政企部',
      'orgkind.regional_centre': '区局营销中心',
      'orgkind.specialist_centre': '专业营销中心',
      'orgkind.specialist_team': '专业营销团队',
      'addr.title': '地址清单',
      'addr.shown': '已显示 {n} / {total}',
      'addr.more': '更多',
      'addr.empty': '该单元暂无您可查看的地址',
      'addr.contact': '联系人',
      'addr.masked': '号码已脱敏',
      'addr.noCustomer': '无客户',
      'asgkind.cell': '网格单元',
      'asgkind.grid': '网格',
      'asgkind.feature_grid': '特征网格',
      'asgkind.customer': '客户',
      'admin.title': '系统管理',
      'admin.subtitle': '用户、组织架构、人员与网格分配',
      'admin.tab.users': '用户',
      'admin.tab.org': '组织',
      'admin.tab.staff': '人员',
      'admin.tab.assignments': '分配',
      'admin.tab.audit': '审计',
      'admin.create.users': '新建用户',
      'admin.create.org': '新建组织',
      'admin.create.staff': '新建人员',
      'admin.create.assignments': '新建分配',
      'admin.list.users': '用户列表',
      'admin.list.org': '组织列表',
      'admin.list.staff': '人员列表',
      'admin.list.assignments': '分配列表',
      'admin.list.audit': '审计日志',
      'admin.submit': '创建',
      'admin.busy': '正在保存…',
      'admin.filter': '筛选…',
      'admin.count': '共 {n} 条',
      'admin.countOf': '显示 {n} / {total} 条',
      'admin.empty': '暂无数据',
      'admin.noMatch': '没有符合筛选条件的记录',
      'admin.loading': '正在加载…',
      'admin.actions': '操作',
      'admin.delete': '删除',
      'admin.confirmDelete': '确认删除？',
      'admin.disable': '停用',
      'admin.enable': '启用',
      'admin.resetPassword': '重置密码',
      'admin.end': '结束',
      'admin.endTitle': '将截止日期设为今天',
      'admin.created': '已创建：{x}',
      'admin.deleted': '已删除：{x}',
      'admin.updated': '已更新：{x}',
      'admin.ended': '分配 #{x} 已结束（截止 {d}）',
      'admin.passwordNew': '用户 {u} 的初始密码',
      'admin.passwordReset': '用户 {u} 的新密码',
      'admin.passwordOnce': '仅显示这一次，请立即安全转交，关闭后无法再次查看。',
      'admin.copy': '复制',
      'admin.copied': '已复制',
      'admin.dismiss': '我已记下',
      'admin.optional': '选填',
      'admin.passwordAuto': '留空则自动生成',
      'admin.scopeHint': '客户经理、网格经理、专业营销负责人填关联人员；区局、地市角色和市场经理填区域代码。',
      'admin.err.generic': '操作失败（HTTP {s}）',
      'admin.err.net': '无法连接服务器，请检查网络',
      'admin.currentOnly': '仅今日有效',
      'admin.allKinds': '全部类型',
      'admin.allActions': '全部操作',
      'admin.refresh': '刷新',
      'admin.state.active': '启用',
      'admin.state.disabled': '已停用',
      'admin.asg.active': '有效',
      'admin.asg.ended': '已结束',
      'admin.asg.future': '未生效',
      'admin.fromOrgUnit': '按所属组织',
      'admin.none': '（无）',
      'admin.pickRole': '— 请选择角色 —',
      'col.username': '用户名',
      'col.role': '角色',
      'col.scope': '权限范围',
      'col.state': '状态',
      'col.created': '创建时间',
      'col.code': '代码',
      'col.name': '名称',
      'col.kind': '类型',
      'col.city': '城市',
      'col.district': '区县',
      'col.parent': '上级组织',
      'col.staffCount': '人数',
      'col.staffCode': '工号',
      'col.staffName': '姓名',
      'col.post': '岗位',
      'col.orgUnit': '所属组织',
      'col.target': '负责对象',
      'col.staff': '人员',
      'col.validFrom': '生效日期',
      'col.validTo': '截止日期',
      'col.at': '时间',
      'col.user': '操作人',
      'col.action': '动作',
      'col.detail': '详情',
      'col.rows': '行数',
      'col.id': '编号',
      'form.username': '用户名',
      'form.role': '角色',
      'form.staff_code': '关联人员（工号）',
      'form.region_code': '区域代码（城市或区县）',
      'form.password': '密码',
      'form.code': '代码',
      'form.name': '名称',
      'form.kind': '类型',
      'form.city_code': '城市',
      'form.district_code': '区县代码',
      'form.parent_code': '上级组织代码',
      'form.staffCode': '工号',
      'form.staffName': '姓名',
      'form.post': '岗位',
      'form.org_unit_code': '所属组织代码',
      'form.asgStaff': '人员工号',
      'form.asgKind': '分配类型',
      'form.target_code': '对象代码',
      'form.valid_from': '生效日期',
      'form.valid_to': '截止日期',
      'form.asgOrgUnit': '记入组织代码',
      'area.wholeDistrict': '全区',
      'action.user.add': '新建用户',
      'action.user.disable': '停用用户',
      'action.user.enable': '启用用户',
      'action.user.passwd': '重置密码',
      'action.login.failed': '登录失败',
      'action.phones.shown': '查看未脱敏电话',
      'action.org_unit.add': '新建组织',
      'action.org_unit.change': '修改组织',
      'action.org_unit.delete': '删除组织',
      'action.staff.add': '新建人员',
      'action.staff.change': '修改人员',
      'action.staff.delete': '删除人员',
      'action.assignment.add': '新建分配',
      'action.assignment.change': '修改分配',
      'action.assignment.delete': '删除分配',
    },
    en: {
      'nav.map': 'Map',
      'nav.admin': 'Administration',
      'header.myArea': 'My area',
      'area.title': 'My area',
      'area.loading': 'Loading your area…',
      'area.error': 'Could not load your area',
      'area.everything': 'Everything',
      'area.everythingNote': 'Your scope covers every city and area',
      'area.wholeCity': 'Whole city',
      'area.cities': 'Cities',
      'area.districts': 'Districts',
      'area.grids': 'Grids',
      'area.featureGrids': 'Characteristic grids',
      'area.cells': 'Cells',
      'area.customers': 'Assigned customers',
      'area.legend': 'Orange outline: the cells you answer for',
      'area.more': 'and {n} more',
      'area.noCells': 'No cell is assigned to you at present',
      'card.featureGrids': 'Characteristic grids',
      'card.noFeatureGrids': 'In no characteristic grid',
      'card.matrix': 'Who answers for it (matrix organisation)',
      'card.axisRegional': 'Regional marketing (account manager / grid manager)',
      'card.axisSpecialist': 'Specialist marketing (characteristic-grid teams)',
      'card.nobody': 'Nobody assigned',
      'card.loading': 'Loading…',
      'card.loadError': 'Could not load',
      'card.retry': 'Retry',
      'card.for': 'For',
      'card.since': 'since',
      'via.cell': 'Account manager (cell)',
      'via.grid': 'Grid manager',
      'via.feature_grid': 'Characteristic-grid team',
      'via.customer': 'Account manager (customer)',
      'orgkind.city_dept': 'City enterprise dept.',
      'orgkind.regional_centre': 'Regional marketing centre',
      'orgkind.specialist_centre': 'Specialist marketing centre',
      'orgkind.specialist_team': 'Specialist team',
      'addr.title': 'Address list',
      'addr.shown': '{n} of {total} shown',
      'addr.more': 'More',
      'addr.empty': 'No address in this cell that you may see',
      'addr.contact': 'Contact',
      'addr.masked': 'Phone masked',
      'addr.noCustomer': 'No customer',
      'asgkind.cell': 'Cell',
      'asgkind.grid': 'Grid',
      'asgkind.feature_grid': 'Characteristic grid',
      'asgkind.customer': 'Customer',
      'admin.title': 'Administration',
      'admin.subtitle': 'Users, organisation, staff and grid assignments',
      'admin.tab.users': 'Users',
      'admin.tab.org': 'Org units',
      'admin.tab.staff': 'Staff',
      'admin.tab.assignments': 'Assignments',
      'admin.tab.audit': 'Audit',
      'admin.create.users': 'New user',
      'admin.create.org': 'New org unit',
      'admin.create.staff': 'New staff member',
      'admin.create.assignments': 'New assignment',
      'admin.list.users': 'Users',
      'admin.list.org': 'Org units',
      'admin.list.staff': 'Staff',
      'admin.list.assignments': 'Assignments',
      'admin.list.audit': 'Audit log',
      'admin.submit': 'Create',
      'admin.busy': 'Saving…',
      'admin.filter': 'Filter…',
      'admin.count': '{n} rows',
      'admin.countOf': '{n} of {total} rows',
      'admin.empty': 'Nothing here yet',
      'admin.noMatch': 'No row matches the filter',
      'admin.loading': 'Loading…',
      'admin.actions': 'Actions',
      'admin.delete': 'Delete',
      'admin.confirmDelete': 'Really delete?',
      'admin.disable': 'Disable',
      'admin.enable': 'Enable',
      'admin.resetPassword': 'Reset password',
      'admin.end': 'End',
      'admin.endTitle': 'Set the end date to today',
      'admin.created': 'Created: {x}',
      'admin.deleted': 'Deleted: {x}',
      'admin.updated': 'Updated: {x}',
      'admin.ended': 'Assignment #{x} ended (on {d})',
      'admin.passwordNew': 'Password of the new user {u}',
      'admin.passwordReset': 'New password of {u}',
      'admin.passwordOnce': 'Shown only this once: pass it on securely now; it cannot be shown again.',
      'admin.copy': 'Copy',
      'admin.copied': 'Copied',
      'admin.dismiss': 'I have noted it',
      'admin.optional': 'optional',
      'admin.passwordAuto': 'leave empty to generate one',
      'admin.scopeHint': 'Account managers, grid managers and specialist leads: link a staff member. Regional heads, city managers and planners: give a region code.',
      'admin.err.generic': 'The request failed (HTTP {s})',
      'admin.err.net': 'Cannot reach the server; check your network',
      'admin.currentOnly': 'In force today only',
      'admin.allKinds': 'All kinds',
      'admin.allActions': 'All actions',
      'admin.refresh': 'Refresh',
      'admin.state.active': 'Active',
      'admin.state.disabled': 'Disabled',
      'admin.asg.active': 'In force',
      'admin.asg.ended': 'Ended',
      'admin.asg.future': 'Not yet in force',
      'admin.fromOrgUnit': 'From the org unit',
      'admin.none': '(none)',
      'admin.pickRole': '— choose a role —',
      'col.username': 'User name',
      'col.role': 'Role',
      'col.scope': 'Scope',
      'col.state': 'State',
      'col.created': 'Created',
      'col.code': 'Code',
      'col.name': 'Name',
      'col.kind': 'Kind',
      'col.city': 'City',
      'col.district': 'District',
      'col.parent': 'Parent',
      'col.staffCount': 'Staff',
      'col.staffCode': 'Staff code',
      'col.staffName': 'Name',
      'col.post': 'Post',
      'col.orgUnit': 'Org unit',
      'col.target': 'Assigned to',
      'col.staff': 'Staff member',
      'col.validFrom': 'Valid from',
      'col.validTo': 'Valid to',
      'col.at': 'Time',
      'col.user': 'By',
      'col.action': 'Action',
      'col.detail': 'Detail',
      'col.rows': 'Rows',
      'col.id': 'ID',
      'form.username': 'User name',
      'form.role': 'Role',
      'form.staff_code': 'Staff member (code)',
      'form.region_code': 'Region code (city or district)',
      'form.password': 'Password',
      'form.code': 'Code',
      'form.name': 'Name',
      'form.kind': 'Kind',
      'form.city_code': 'City',
      'form.district_code': 'District code',
      'form.parent_code': 'Parent org unit code',
      'form.staffCode': 'Staff code',
      'form.staffName': 'Name',
      'form.post': 'Post',
      'form.org_unit_code': 'Org unit code',
      'form.asgStaff': 'Staff code',
      'form.asgKind': 'Kind',
      'form.target_code': 'Target code',
      'form.valid_from': 'Valid from',
      'form.valid_to': 'Valid to',
      'form.asgOrgUnit': 'Counts for org unit',
      'area.wholeDistrict': 'Whole district',
      'action.user.add': 'User created',
      'action.user.disable': 'User disabled',
      'action.user.enable': 'User enabled',
      'action.user.passwd': 'Password reset',
      'action.login.failed': 'Failed login',
      'action.phones.shown': 'Unmasked phones shown',
      'action.org_unit.add': 'Org unit created',
      'action.org_unit.change': 'Org unit changed',
      'action.org_unit.delete': 'Org unit deleted',
      'action.staff.add': 'Staff created',
      'action.staff.change': 'Staff changed',
      'action.staff.delete': 'Staff deleted',
      'action.assignment.add': 'Assignment created',
      'action.assignment.change': 'Assignment changed',
      'action.assignment.delete': 'Assignment deleted',
    },
  };
  Object.assign(I18N['zh-CN'], I18N_MORE['zh-CN']);
  Object.assign(I18N.en, I18N_MORE.en);

  // texts of the holistic views: metrics, levels, classification, drill-down, compare, rank, search
  const I18N_VIEWS = {
    'zh-CN': {
      'ctl.metric': '指标',
      'ctl.level': '层级',
      'ctl.method': '分级方法',
      'ctl.asOf': '截至日期',
      'ctl.period': '统计期间',
      'ctl.featureGrid': '特征网格',
      'fg.none': '— 不突出显示 —',
      'fg.title': '特征网格',
      'fg.members': '成员网格单元',
      'fg.districts': '覆盖区县',
      'fg.legend': '紫色轮廓：特征网格成员单元',
      'fg.clear': '取消突出显示',
      'level.city': '城市',
      'level.district': '区县',
      'level.grid': '网格',
      'level.cell': '单元',
      'level.h3': 'H3',
      'level.building': '楼宇',
      'level.feature_grid': '特征网格',
      'method.quantile': '分位数',
      'method.jenks': '自然断点',
      'method.category': '主导类别',
      'legend.areas': '{method} · {level}',
      'legend.count.district': '区县数',
      'legend.count.grid': '网格数',
      'legend.count.cell': '单元数',
      'legend.count.h3': '六边形数',
      'legend.h3': 'H3 分辨率 {r}',
      'metric.fixed_line_penetration': '固话渗透率',
      'metric.broadband_penetration': '宽带渗透率',
      'metric.long_distance_share': '长途市场占有率',
      'metric.line_share': '线路占有率',
      'metric.exclusivity': '独家率',
      'metric.revenue': '网格收入（月）',
      'metric.revenue_density': '收入密度',
      'metric.arpa': '户均收入',
      'metric.coverage': '市场空间信息完整率',
      'metric.opportunity': '商机数',
      'metric.expiring_90d': '90天内到期合同',
      'metric.status_mix': '客户状态分布（主导状态）',
      'metric.rival_mix': '竞争对手分布（主导对手）',
      'metric.churned': '流失数',
      'metric.won': '新增客户数',
      'metric.new_own_lines': '新增本网线路',
      'metric.units': '地址单元数',
      'metric.demand': '有需求客户数',
      'metric.surveyed': '已摸查',
      'metric.area_km2': '面积（平方公里）',
      'group.share': '渗透与份额',
      'group.money': '收入',
      'group.field': '摸查与商机',
      'group.mix': '构成',
      'group.period': '期间变化',
      'rival.unknown': '未知对手',
      'card.metrics': '全部指标',
      'card.rivalMix': '竞争对手分布',
      'card.noRivals': '暂无竞争或他网客户',
      'card.children': '下级区域',
      'card.childrenOf': '{level}（{n}）',
      'card.drill': '下钻',
      'card.compareAdd': '加入对比',
      'card.compareIn': '已加入对比',
      'card.rank': '排行榜',
      'card.peopleCells': '负责人按网格单元分配，请下钻至单元查看两条线的负责人。',
      'people.coverage': '{a}/{b} 个单元有客户经理',
      'people.gridCoverage': '{a}/{b} 个网格有网格经理',
      'people.partial': '仅统计您可查看的单元',
      'people.units': '营销中心',
      'people.head': '负责人',
      'people.noHead': '未设负责人',
      'people.staff': '{n} 人',
      'people.gridManagers': '网格经理',
      'people.accountManagers': '客户经理（{n} 人）',
      'people.holds': '{g} 个网格 · {c} 个单元',
      'people.holdsCells': '{c} 个单元',
      'people.more': '另有 {n} 人',
      'people.featureGrids': '特征网格',
      'people.fgCells': '本区域内 {n} 个单元',
      'people.holders': '团队',
      'people.noHolder': '未分配团队',
      'card.topCustomers': '重点客户',
      'card.topCustomersNote': '按月收入排序的前 {n} 位客户',
      'card.noCustomers': '暂无客户',
      'card.buildings': '楼宇',
      'card.units': '{n} 个地址',
      'card.period': '期间 {p}',
      'card.asOf': '截至 {d}',
      'crumb.city': '全市',
      'compare.open': '对比',
      'compare.title': '区域对比',
      'compare.clear': '清空',
      'compare.remove': '移除',
      'compare.need': '请至少选择 2 个区域（最多 10 个）：在区域卡片中点击“加入对比”。',
      'compare.full': '最多对比 10 个区域',
      'compare.metric': '指标',
      'compare.charts': '指标对比图',
      'rank.title': '{name} · {level}排行榜',
      'rank.rank': '排名',
      'rank.percentile': '百分位',
      'rank.name': '名称',
      'rank.childLevel': '排名对象',
      'rank.empty': '没有可排名的区域',
      'search.placeholder': '搜索地址、客户名称或编码',
      'search.none': '没有找到匹配结果',
      'search.error': '搜索失败',
      'search.kind.unit': '地址',
      'search.kind.customer': '客户',
      'search.kind.cell': '网格单元',
      'search.kind.building': '楼宇',
      'modal.close': '关闭',
      'fw.title': '外勤：扫楼与商机跟进',
      'fw.sweep': '本月扫楼覆盖（{from} 至 {to}）',
      'fw.stale': '{n} 天未走访',
      'fw.open': '跟进中',
      'fw.overdue': '已逾期',
      'fw.won': '已赢单',
      'fw.lost': '已丢单',
      'fw.visits': '走访记录',
      'fw.noVisits': '暂无走访记录',
      'fw.outcome': '走访结果',
      'fw.logVisit': '记录走访',
      'fw.visitSaved': '走访已记录',
      'fw.followUp': '发起商机跟进',
      'fw.due': '计划完成日期',
      'fw.nextStep': '下一步行动',
      'fw.followSaved': '商机跟进已创建',
      'outcome.met': '已见面',
      'outcome.not_met': '未见到',
      'outcome.refused': '拒绝',
      'outcome.interested': '有意向',
      'outcome.signed': '已签约',
      'outcome.vacant': '空置',
      'roster.title': '楼宇名册',
      'roster.floors': '楼层数',
      'btype.campus': '校园',
      'btype.office_tower': '写字楼',
      'btype.street_shop': '沿街商铺',
      'btype.hospital': '医院',
      'btype.specialist_market': '专业市场',
      'btype.government': '党政机关',
      'btype.hotel': '宾馆酒店',
      'btype.residential': '住宅',
      'btype.industrial_park': '产业园区',
      'unit.title': '地址卡片',
      'legend.dots': '地址点（按客户状态）',
      'unit.back': '返回',
      'unit.edit': '更新市场信息',
      'unit.market': '市场信息',
      'unit.save': '保存',
      'unit.saved': '已保存（版本 {v}）',
      'unit.nothing': '没有修改任何字段',
      'unit.readOnly': '您的角色只能查看，不能修改地址信息',
      'unit.floor': '{f} 层',
      'tip.unit': '地址单元',
      'tip.openCard': '点击打开地址卡片',
      'tip.zoomIn': '点击放大查看每个地址',
      'unit.changedAt': '最近修改',
      'unit.conflict': '该地址已被 {who} 于 {at} 修改',
      'unit.conflictNote': '表单已更新为最新值，请核对后重新保存。',
      'unit.f.status': '客户状态',
      'unit.f.fixed_lines_own': '本网固话',
      'unit.f.fixed_lines_rival': '他网固话',
      'unit.f.broadband_own': '本网宽带',
      'unit.f.broadband_rival': '他网宽带',
      'unit.f.ld_minutes_own': '本网长途分钟/月',
      'unit.f.ld_minutes_rival': '他网长途分钟/月',
      'unit.f.revenue_month': '月收入（元）',
      'unit.f.contract_end': '合同到期日',
      'unit.f.rival_operator': '竞争对手',
      'unit.f.contact_name': '联系人',
      'unit.f.contact_phone': '联系电话',
      'unit.f.note': '备注',
    },
    en: {
      'ctl.metric': 'Metric',
      'ctl.level': 'Level',
      'ctl.method': 'Classes',
      'ctl.asOf': 'As of',
      'ctl.period': 'Period',
      'ctl.featureGrid': 'Characteristic grid',
      'fg.none': '— none highlighted —',
      'fg.title': 'Characteristic grid',
      'fg.members': 'Member cells',
      'fg.districts': 'Districts covered',
      'fg.legend': 'Purple outline: member cells of the characteristic grid',
      'fg.clear': 'Clear highlight',
      'level.city': 'City',
      'level.district': 'District',
      'level.grid': 'Grid',
      'level.cell': 'Cell',
      'level.h3': 'H3',
      'level.building': 'Building',
      'level.feature_grid': 'Characteristic grid',
      'method.quantile': 'Quantiles',
      'method.jenks': 'Natural breaks',
      'method.category': 'Dominant category',
      'legend.areas': '{method} · {level}',
      'legend.count.district': 'number of districts',
      'legend.count.grid': 'number of grids',
      'legend.count.cell': 'number of cells',
      'legend.count.h3': 'number of hexagons',
      'legend.h3': 'H3 resolution {r}',
      'metric.fixed_line_penetration': 'Fixed-line penetration',
      'metric.broadband_penetration': 'Broadband penetration',
      'metric.long_distance_share': 'Long-distance share',
      'metric.line_share': 'Line share',
      'metric.exclusivity': 'Exclusivity',
      'metric.revenue': 'Revenue (monthly)',
      'metric.revenue_density': 'Revenue density',
      'metric.arpa': 'Revenue per customer',
      'metric.coverage': 'Market-space info coverage',
      'metric.opportunity': 'Opportunities',
      'metric.expiring_90d': 'Contracts expiring in 90 days',
      'metric.status_mix': 'Status mix (dominant status)',
      'metric.rival_mix': 'Rival mix (dominant rival)',
      'metric.churned': 'Churned',
      'metric.won': 'Won',
      'metric.new_own_lines': 'New own lines',
      'metric.units': 'Address units',
      'metric.demand': 'Customers with demand',
      'metric.surveyed': 'Surveyed',
      'metric.area_km2': 'Area (km²)',
      'group.share': 'Penetration and share',
      'group.money': 'Revenue',
      'group.field': 'Survey and opportunities',
      'group.mix': 'Mix',
      'group.period': 'Change over the period',
      'rival.unknown': 'Unknown rival',
      'card.metrics': 'All metrics',
      'card.rivalMix': 'Rival mix',
      'card.noRivals': 'No competing or other-network customer',
      'card.children': 'Sub-areas',
      'card.childrenOf': '{level}s ({n})',
      'card.drill': 'Drill down',
      'card.compareAdd': 'Add to compare',
      'card.compareIn': 'In comparison',
      'card.rank': 'League table',
      'card.peopleCells': 'People are assigned per cell: drill down to a cell to see who answers for it on both axes.',
      'people.coverage': '{a} of {b} cells have an account manager',
      'people.gridCoverage': '{a} of {b} grids have a grid manager',
      'people.partial': 'Counted over the cells you may see',
      'people.units': 'Marketing centres',
      'people.head': 'Head',
      'people.noHead': 'No head set',
      'people.staff': '{n} staff',
      'people.gridManagers': 'Grid managers',
      'people.accountManagers': 'Account managers ({n})',
      'people.holds': '{g} grids · {c} cells',
      'people.holdsCells': '{c} cells',
      'people.more': '{n} more',
      'people.featureGrids': 'Characteristic grids',
      'people.fgCells': '{n} cells in this area',
      'people.holders': 'Team',
      'people.noHolder': 'No team assigned',
      'card.topCustomers': 'Top customers',
      'card.topCustomersNote': 'Top {n} customers by monthly revenue',
      'card.noCustomers': 'No customer',
      'card.buildings': 'Buildings',
      'card.units': '{n} addresses',
      'card.period': 'period {p}',
      'card.asOf': 'as of {d}',
      'crumb.city': 'Whole city',
      'compare.open': 'Compare',
      'compare.title': 'Compare areas',
      'compare.clear': 'Clear',
      'compare.remove': 'Remove',
      'compare.need': 'Pick at least 2 areas (at most 10): click “Add to compare” on an area card.',
      'compare.full': 'At most 10 areas can be compared',
      'compare.metric': 'Metric',
      'compare.charts': 'Side-by-side charts',
      'rank.title': '{name} · league table of {level}s',
      'rank.rank': 'Rank',
      'rank.percentile': 'Percentile',
      'rank.name': 'Name',
      'rank.childLevel': 'Ranking',
      'rank.empty': 'No area to rank',
      'search.placeholder': 'Search address, customer name or code',
      'search.none': 'No match',
      'search.error': 'Search failed',
      'search.kind.unit': 'Address',
      'search.kind.customer': 'Customer',
      'search.kind.cell': 'Cell',
      'search.kind.building': 'Building',
      'modal.close': 'Close',
      'fw.title': 'Field work: sweeps and follow-ups',
      'fw.sweep': 'Sweep coverage this month ({from} to {to})',
      'fw.stale': 'Not visited for {n} days',
      'fw.open': 'Open',
      'fw.overdue': 'Overdue',
      'fw.won': 'Won',
      'fw.lost': 'Lost',
      'fw.visits': 'Visits',
      'fw.noVisits': 'No visit yet',
      'fw.outcome': 'Outcome',
      'fw.logVisit': 'Log visit',
      'fw.visitSaved': 'Visit logged',
      'fw.followUp': 'Open a follow-up',
      'fw.due': 'Due date',
      'fw.nextStep': 'Next step',
      'fw.followSaved': 'Follow-up opened',
      'outcome.met': 'Met',
      'outcome.not_met': 'Not met',
      'outcome.refused': 'Refused',
      'outcome.interested': 'Interested',
      'outcome.signed': 'Signed',
      'outcome.vacant': 'Vacant',
      'roster.title': 'Building roster',
      'roster.floors': 'Floors',
      'btype.campus': 'Campus',
      'btype.office_tower': 'Office tower',
      'btype.street_shop': 'Street shop',
      'btype.hospital': 'Hospital',
      'btype.specialist_market': 'Specialist market',
      'btype.government': 'Government',
      'btype.hotel': 'Hotel',
      'btype.residential': 'Residential',
      'btype.industrial_park': 'Industrial park',
      'unit.title': 'Address card',
      'legend.dots': 'Address dots (by status)',
      'unit.back': 'Back',
      'unit.edit': 'Update market information',
      'unit.market': 'Market information',
      'unit.save': 'Save',
      'unit.saved': 'Saved (version {v})',
      'unit.nothing': 'No field was changed',
      'unit.readOnly': 'Your role may view addresses but not change them',
      'unit.floor': 'floor {f}',
      'tip.unit': 'Address unit',
      'tip.openCard': 'Click to open the address card',
      'tip.zoomIn': 'Click to zoom in to the addresses',
      'unit.changedAt': 'Last changed',
      'unit.conflict': 'Changed by {who} at {at}',
      'unit.conflictNote': 'The form now shows the latest values: check them and save again.',
      'unit.f.status': 'Status',
      'unit.f.fixed_lines_own': 'Own fixed lines',
      'unit.f.fixed_lines_rival': 'Rival fixed lines',
      'unit.f.broadband_own': 'Own broadband',
      'unit.f.broadband_rival': 'Rival broadband',
      'unit.f.ld_minutes_own': 'Own long-distance min/month',
      'unit.f.ld_minutes_rival': 'Rival long-distance min/month',
      'unit.f.revenue_month': 'Monthly revenue (RMB)',
      'unit.f.contract_end': 'Contract end',
      'unit.f.rival_operator': 'Rival operator',
      'unit.f.contact_name': 'Contact',
      'unit.f.contact_phone': 'Contact phone',
      'unit.f.note': 'Note',
    },
  };
  Object.assign(I18N['zh-CN'], I18N_VIEWS['zh-CN']);
  Object.assign(I18N.en, I18N_VIEWS.en);

  // texts of field work on the map: my follow-ups, sweep coverage
  const I18N_FIELD = {
    'zh-CN': {
      'header.myFollowUps': '我的跟进',
      'fu.title': '我的跟进',
      'fu.badge': '{n} 条跟进中，{o} 条已逾期',
      'fu.sub': '{n} 条跟进中 · 按计划完成日期排序',
      'fu.loading': '正在加载跟进…',
      'fu.error': '跟进加载失败',
      'fu.empty': '暂无进行中的商机跟进',
      'fu.emptyHint': '在地址卡片中可对异网、潜在客户发起跟进。',
      'fu.overdueBy': '逾期 {n} 天',
      'fu.dueToday': '今天到期',
      'fu.dueIn': '{n} 天后到期',
      'fu.legend.overdue': '已逾期',
      'fu.legend.soon': '7 天内到期',
      'fu.nextStep': '下一步',
      'fu.statusNow': '当前状态',
      'fu.wonBadge': '已转化',
      'fu.wonTitle': '开启跟进后该地址已转为存量或竞争客户',
      'fu.reason.expiring': '合约到期',
      'fu.reason.other_network': '异网客户',
      'fu.reason.potential': '潜在客户',
      'fu.close': '关闭跟进',
      'fu.outcome': '结果',
      'fu.outcome.won': '赢单',
      'fu.outcome.lost': '丢单',
      'fu.outcome.dropped': '放弃',
      'fu.wonNeedsStatus': '赢单需先将地址状态改为存量或竞争',
      'fu.note': '备注（选填）',
      'fu.confirm': '确认关闭',
      'fu.cancel': '取消',
      'fu.closed': '已关闭：{a}（{o}）',
      'fu.open': '查看地址',
      'group.fieldwork': '外勤',
      'metric.sweep_coverage': '扫楼覆盖率',
      'sweep.visitedUnits': '已走访 / 地址单元',
      'sweep.visited': '已走访单元',
      'sweep.units': '地址单元数',
      'sweep.period': '{from} 至 {to}',
      'sweep.cellOnly': '扫楼覆盖率按网格单元统计',
      'sweep.error': '扫楼数据加载失败',
      'fw.sweepPeriod': '扫楼覆盖（{from} 至 {to}）',
    },
    en: {
      'header.myFollowUps': 'My follow-ups',
      'fu.title': 'My follow-ups',
      'fu.badge': '{n} open, {o} overdue',
      'fu.sub': '{n} open · by due date',
      'fu.loading': 'Loading follow-ups…',
      'fu.error': 'Could not load your follow-ups',
      'fu.empty': 'No open follow-up',
      'fu.emptyHint': 'Open one from the address card of an other-network or potential customer.',
      'fu.overdueBy': '{n} days overdue',
      'fu.dueToday': 'Due today',
      'fu.dueIn': 'Due in {n} days',
      'fu.legend.overdue': 'Overdue',
      'fu.legend.soon': 'Due within 7 days',
      'fu.nextStep': 'Next step',
      'fu.statusNow': 'Status now',
      'fu.wonBadge': 'Won',
      'fu.wonTitle': 'The address became stock or competing after the follow-up was opened',
      'fu.reason.expiring': 'Contract ending',
      'fu.reason.other_network': 'Other network',
      'fu.reason.potential': 'Potential',
      'fu.close': 'Close',
      'fu.outcome': 'Outcome',
      'fu.outcome.won': 'Won',
      'fu.outcome.lost': 'Lost',
      'fu.outcome.dropped': 'Dropped',
      'fu.wonNeedsStatus': 'To close as won, first set the address to stock or competing',
      'fu.note': 'Note (optional)',
      'fu.confirm': 'Close follow-up',
      'fu.cancel': 'Cancel',
      'fu.closed': 'Closed: {a} ({o})',
      'fu.open': 'Show address',
      'group.fieldwork': 'Field work',
      'metric.sweep_coverage': 'Sweep coverage',
      'sweep.visitedUnits': 'Visited / units',
      'sweep.visited': 'Units visited',
      'sweep.units': 'Address units',
      'sweep.period': '{from} to {to}',
      'sweep.cellOnly': 'Sweep coverage is counted per cell',
      'sweep.error': 'Could not load the sweep figures',
      'fw.sweepPeriod': 'Sweep coverage ({from} to {to})',
    },
  };
  Object.assign(I18N['zh-CN'], I18N_FIELD['zh-CN']);
  Object.assign(I18N.en, I18N_FIELD.en);

  /** The metrics a holistic view can show (METRICS.md keys) and how they read. */
  const METRICS = [
    { key: 'penetration', fmt: 'pct', group: 'share', ramp: 'blue' },
    { key: 'fixed_line_penetration', fmt: 'pct', group: 'share', ramp: 'blue' },
    { key: 'broadband_penetration', fmt: 'pct', group: 'share', ramp: 'blue' },
    { key: 'long_distance_share', fmt: 'pct', group: 'share', ramp: 'blue' },
    { key: 'line_share', fmt: 'pct', group: 'share', ramp: 'blue' },
    { key: 'exclusivity', fmt: 'pct', group: 'share', ramp: 'blue' },
    { key: 'revenue', fmt: 'money', group: 'money', ramp: 'green' },
    { key: 'revenue_density', fmt: 'density', group: 'money', ramp: 'green' },
    { key: 'arpa', fmt: 'money', group: 'money', ramp: 'green' },
    { key: 'coverage', fmt: 'pct', group: 'field', ramp: 'purple' },
    { key: 'opportunity', fmt: 'int', group: 'field', ramp: 'orange' },
    { key: 'expiring_90d', fmt: 'int', group: 'field', ramp: 'orange' },
    { key: 'units', fmt: 'int', group: 'field', ramp: 'purple' },
    { key: 'demand', fmt: 'int', group: 'field', ramp: 'purple' },
    { key: 'status_mix', fmt: 'category', group: 'mix' },
    { key: 'rival_mix', fmt: 'category', group: 'mix' },
    { key: 'churned', fmt: 'int', group: 'period', ramp: 'orange', period: true },
    { key: 'won', fmt: 'int', group: 'period', ramp: 'green', period: true },
    { key: 'new_own_lines', fmt: 'int', group: 'period', ramp: 'green', period: true },
    // visited / units of the month picked (field-work API), cells only
    { key: 'sweep_coverage', fmt: 'pct', group: 'fieldwork', ramp: 'green', period: true, sweep: true },
  ];
  const METRIC_GROUPS = ['share', 'money', 'field', 'mix', 'period', 'fieldwork'];
  // ColorBrewer sequential ramps, 5 classes each (colour-blind safe)
  const RAMPS = {
    blue: ['#ffffcc', '#a1dab4', '#41b6c4', '#2c7fb8', '#253494'],
    green: ['#ffffcc', '#c2e699', '#78c679', '#31a354', '#006837'],
    orange: ['#ffffb2', '#fecc5c', '#fd8d3c', '#f03b20', '#bd0026'],
    purple: ['#feebe2', '#fbb4b9', '#f768a1', '#c51b8a', '#7a0177'],
  };
  // ColorBrewer Set2 for rivals (categorical)
  const RIVAL_COLORS = ['#66c2a5', '#fc8d62', '#8da0cb', '#e78ac3', '#a6d854', '#ffd92f', '#e5c494'];
  const LEVELS = ['district', 'grid', 'cell', 'h3'];
  const CHILD_LEVEL = { city: 'district', district: 'grid', grid: 'cell', feature_grid: 'cell', cell: 'building' };
  const COMPARE_METRICS = ['penetration', 'fixed_line_penetration', 'long_distance_share', 'coverage', 'revenue', 'opportunity'];
  const metricDef = (key) => METRICS.find((m) => m.key === key) || METRICS[0];
  /** The H3 resolution shown at a zoom: about 30 px across a hexagon. */
  const h3Resolution = (zoom) => Math.max(5, Math.min(12, Math.floor(zoom) - 4));

  // ColorBrewer YlGnBu 5 (colour-blind safe), low → high penetration
  const RAMP = ['#ffffcc', '#a1dab4', '#41b6c4', '#2c7fb8', '#253494'];
  const NO_DATA = '#bfc5cc';
  const N_CLASSES = 5;
  const STATUSES = [
    { key: 'stock', color: '#1c7ed6' },
    { key: 'competing', color: '#74c0fc' },
    { key: 'other_network', color: '#e8590c' },
    { key: 'potential', color: '#fcc419' },
    { key: 'vacant', color: '#dee2e6' },
    { key: 'unknown', color: '#868e96' },
  ];
  const CELL_STYLE = { weight: 0.6, color: '#ffffff', opacity: 0.9, fillOpacity: 0.82 };
  // hover, "my area" and selection are outlines drawn above the district lines, with white halos
  const HOVER_STYLES = [{ weight: 2.5, color: '#0b2545', opacity: 0.75, fill: false }];
  const OWN_STYLES = [
    { weight: 6, color: '#ffffff', opacity: 0.9, fill: false },
    { weight: 3, color: '#f76707', opacity: 1, fill: false },
  ];
  const SELECTED_STYLES = [
    { weight: 7, color: '#ffffff', opacity: 0.95, fill: false },
    { weight: 3.5, color: '#0b2545', opacity: 1, fill: false },
  ];
  const ADDR_PAGE = 50;
  const ROLES = ['admin', 'city_manager', 'regional_head', 'specialist_lead', 'grid_manager', 'account_manager', 'planner'];
  const ADMIN_ROLES = ['admin', 'city_manager'];
  const ORG_KINDS = ['city_dept', 'regional_centre', 'specialist_centre', 'specialist_team'];
  const ASG_KINDS = ['cell', 'grid', 'feature_grid', 'customer'];
  const TIMEZONE = 'Asia/Shanghai'; // the operator's time zone (server setting GRIDMARKET_TIMEZONE)

  // ---------------------------------------------------------------- helpers

  const $ = (id) => document.getElementById(id);

  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

  // html`...` escapes every interpolated value unless it is already html (Raw)
  class Raw { constructor(s) { this.s = s; } toString() { return this.s; } }
  const toHtml = (v) => {
    if (v instanceof Raw) return v.s;
    if (Array.isArray(v)) return v.map(toHtml).join('');
    if (v === null || v === undefined || v === false) return '';
    return esc(v);
  };
  const html = (strings, ...values) =>
    new Raw(strings.reduce((out, s, i) => out + s + (i < values.length ? toHtml(values[i]) : ''), ''));

  const nfInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const nfMoney = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const pct = (v) => (isNum(v) ? `${(v * 100).toFixed(1)}%` : t('legend.nodata'));
  const int = (v) => (isNum(v) ? nfInt.format(v) : '—');
  const money = (v) => (isNum(v) ? `¥${nfMoney.format(v)}` : '—');
  const ratio = (num, den) => (den > 0 ? num / den : null);

  function readConfig() {
    try {
      return JSON.parse($('gm-config').textContent || '{}') || {};
    } catch (_) {
      return {};
    }
  }

  const CONFIG = readConfig();

  // ---------------------------------------------------------------- state

  const state = {
    shapes: new Map(), // outlines of areas by request: {etag, body} (loadShapes)
    lang: 'zh-CN',
    user: null,
    csrf: null,
    cities: [],
    city: null,
    cells: null,
    classes: [],
    selected: null, // cell layer
    hoverOutline: null,
    selectedOutline: null,
    map: null,
    cellLayer: null,
    districtLayers: [],
    loadSeq: 0,
    loginErrorKey: null,
    statusKey: null,
    detail: null, // the selected cell's card data: {code, status, data, units, unitsStatus, done}
    area: null, // "my area": {status, data}
    areaOpen: false,
    ownOutline: null,
    ownCells: [],
    view: 'map', // 'map' or 'admin'
    admin: null, // the administration pages' state (see adminState)
    // the holistic view: metric, level (district|grid|cell|h3), classes, as-of date, period, drill-down path
    mv: { metric: 'penetration', level: 'cell', method: 'quantile', asOf: '', period: '', path: [] },
    layerLevel: null, // the level drawn, as asked of the API (h3:9 ...)
    pendingLevel: null,
    layerBox: null,
    cityRow: null, // the city's own metrics
    children: null, // drill-down list of the selected area: {key, status, rows}
    customers: null, // its top customers: {key, status, rows}
    people: null, // who answers for it above the cell level: {key, status, data}
    fieldWork: null, // the selected cell's sweep and follow-ups: {code, status, sweep, follow}
    compare: [], // areas picked for comparison: [{level, id, name}]
    modal: null, // compare or league table: {kind, status, ...}
    featureGrids: null,
    fg: null, // the characteristic grid highlighted: {code, row, features, codes, status}
    fgOutline: null,
    search: null,
    unit: null, // the address card: {id, status, data, ...}
    sweep: null, // sweep coverage of the city's cells for a period: {key, from, to, rows: Map(code → [units, visited, coverage])}
    levelBeforeSweep: null, // the level to go back to when the sweep view is left
    follow: null, // "my follow-ups": {open, status, items, closing, draft, error, busy, message}
  };

  function t(key) {
    const dict = I18N[state.lang] || I18N['zh-CN'];
    return dict[key] ?? I18N['zh-CN'][key] ?? key;
  }

  /** A text with {name} placeholders filled in. */
  const tf = (key, vars) => t(key).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));

  /** A label from a family of keys (e.g. status.stock), or the raw value when there is none. */
  const label = (prefix, value) => (value === null || value === undefined || value === '' ? ''
    : (I18N['zh-CN'][`${prefix}.${value}`] ? t(`${prefix}.${value}`) : String(value)));

  const zone = () => CONFIG.timezone || TIMEZONE;
  /** Today in the operator's time zone, as YYYY-MM-DD. */
  const today = () => new Intl.DateTimeFormat('en-CA', { timeZone: zone() }).format(new Date());
  /** A timestamp shown as YYYY-MM-DD HH:MM:SS in the operator's time zone. */
  const timestamp = (iso) => {
    const d = new Date(iso);
    if (!iso || Number.isNaN(d.getTime())) return iso || '—';
    return new Intl.DateTimeFormat('sv-SE', { timeZone: zone(), dateStyle: 'short', timeStyle: 'medium' }).format(d);
  };

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, detail, field = null, data = null) {
      super(detail || `HTTP ${status}`);
      this.status = status;
      this.detail = detail;
      this.field = field;
      this.data = data;
    }
  }

  /** The message and field of an error body: {detail, field} or FastAPI's [{loc, msg}]. */
  function errorOf(data) {
    if (!data) return [null, null];
    if (typeof data.detail === 'string') return [data.detail, typeof data.field === 'string' ? data.field : null];
    if (Array.isArray(data.detail) && data.detail.length) {
      const first = data.detail[0] || {};
      const loc = Array.isArray(first.loc) ? first.loc : [];
      const field = loc.length > 1 ? String(loc[loc.length - 1]) : null;
      return [typeof first.msg === 'string' ? first.msg : null, field];
    }
    return [null, null];
  }

  async function api(path, { method = 'GET', body, headers: extra } = {}) {
    const headers = { Accept: 'application/json', ...(extra || {}) };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    const res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 204) return null;
    const type = res.headers.get('content-type') || '';
    const data = type.includes('json') ? await res.json().catch(() => null) : null;
    if (!res.ok) throw new ApiError(res.status, ...errorOf(data), data);
    return data;
  }

  // ---------------------------------------------------------------- language

  function setLang(lang) {
    state.lang = I18N[lang] ? lang : 'zh-CN';
    try { localStorage.setItem('gm-lang', state.lang); } catch (_) { /* private mode */ }
    applyLang();
  }

  function applyLang() {
    document.documentElement.lang = state.lang;
    document.title = `${t('app.title')} · gridmarket`;
    document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll('[data-i18n-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
    document.querySelectorAll('[data-i18n-title]').forEach((el) => { el.title = t(el.dataset.i18nTitle); });
    document.querySelectorAll('.gm-lang-btn').forEach((b) => {
      b.setAttribute('aria-pressed', String(b.dataset.lang === state.lang));
    });
    $('gm-panel-close').title = t('panel.close');
    $('gm-panel-close').setAttribute('aria-label', t('panel.close'));
    if (state.loginErrorKey) showLoginError(state.loginErrorKey);
    if (state.statusKey) setMapStatus(state.statusKey, $('gm-map-status').classList.contains('is-error'));
    renderUser();
    if (state.map) {
      const zin = document.querySelector('.leaflet-control-zoom-in');
      const zout = document.querySelector('.leaflet-control-zoom-out');
      if (zin) { zin.title = t('map.zoomin'); zin.setAttribute('aria-label', t('map.zoomin')); }
      if (zout) { zout.title = t('map.zoomout'); zout.setAttribute('aria-label', t('map.zoomout')); }
    }
    renderControls();
    renderLegend();
    renderPanel();
    renderArea();
    renderFollow();
    renderFgBox();
    renderSearch();
    renderModal();
    if (state.cellLayer) state.cellLayer.closeTooltip();
    $('gm-myarea').title = t('header.myArea');
    renderFollowButton();
    if (state.user) showView(state.view);
    if (state.view === 'admin') renderAdmin();
  }

  // ---------------------------------------------------------------- login / logout

  function showLoginError(key) {
    state.loginErrorKey = key;
    const el = $('gm-login-error');
    el.hidden = !key;
    el.textContent = key ? t(key) : '';
  }

  function showLogin(errorKey = null) {
    teardownMap();
    state.user = null;
    state.csrf = null;
    document.body.classList.remove('is-app');
    document.body.classList.add('is-login');
    $('gm-app').hidden = true;
    $('gm-admin').hidden = true;
    $('gm-nav').hidden = true;
    $('gm-header-tools').hidden = true;
    $('gm-user').hidden = true;
    state.admin = null;
    state.view = 'map';
    delete document.body.dataset.view;
    $('gm-login').hidden = false;
    showLoginError(errorKey);
    $('gm-username').focus();
  }

  function startSession(session) {
    state.user = session.user;
    state.csrf = session.csrf_token || null;
    document.body.classList.remove('is-login');
    document.body.classList.add('is-app');
    $('gm-login').hidden = true;
    $('gm-app').hidden = false;
    $('gm-user').hidden = false;
    showLoginError(null);
    renderUser();
    state.admin = adminState();
    initMap();
    route();
    loadCities();
    loadFeatureGrids();
    loadFollowUps();
  }

  function renderUser() {
    const u = state.user;
    if (!u) return;
    const roleName = (state.lang === 'en' ? u.role_name_en : u.role_name_zh) || t(`role.${u.role}`);
    $('gm-user-name').textContent = u.username;
    $('gm-user-role').textContent = u.scope_name ? `${roleName} · ${u.scope_name}` : roleName;
    $('gm-avatar').textContent = (u.username || '?').slice(0, 1).toUpperCase();
  }

  async function onLoginSubmit(ev) {
    ev.preventDefault();
    const username = $('gm-username').value.trim();
    const password = $('gm-password').value;
    if (!username || !password) { showLoginError('login.err.missing'); return; }
    const btn = $('gm-login-submit');
    btn.disabled = true;
    btn.dataset.i18n = 'login.busy';
    btn.textContent = t('login.busy');
    try {
      const session = await api('/api/v1/auth/login', { method: 'POST', body: { username, password } });
      $('gm-password').value = '';
      startSession(session);
    } catch (err) {
      const key = !(err instanceof ApiError) ? 'login.err.net'
        : err.status === 429 ? 'login.err.rate'
          : err.status >= 500 ? 'login.err.server' : 'login.err.bad';
      showLoginError(key);
      $('gm-password').select();
    } finally {
      btn.disabled = false;
      btn.dataset.i18n = 'login.submit';
      btn.textContent = t('login.submit');
    }
  }

  async function logout() {
    try {
      await api('/api/v1/auth/logout', { method: 'POST' });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) console.warn('logout failed', err);
    }
    showLogin();
  }

  // any 401 after login means the session has ended
  function handleApiFailure(err) {
    if (err instanceof ApiError && err.status === 401) { showLogin('login.err.expired'); return true; }
    return false;
  }

  // ---------------------------------------------------------------- map

  function initMap() {
    if (state.map) return;
    const map = L.map('gm-map', {
      preferCanvas: true,
      renderer: L.canvas({ padding: 0.3 }),
      zoomControl: false,
      zoomSnap: 0.25,
      minZoom: 3,
      maxZoom: 19,
    });
    L.control.zoom({ position: 'topright', zoomInTitle: t('map.zoomin'), zoomOutTitle: t('map.zoomout') }).addTo(map);
    L.control.scale({ imperial: false, position: 'bottomright' }).addTo(map);
    map.attributionControl.setPrefix('Leaflet');

    // district fill below the cells, district outlines above them (never catching the mouse)
    map.createPane('gm-district-fill').style.zIndex = 350;
    map.createPane('gm-district-line').style.zIndex = 450;
    map.getPane('gm-district-line').style.pointerEvents = 'none';
    map.createPane('gm-highlight').style.zIndex = 460;
    map.getPane('gm-highlight').style.pointerEvents = 'none';
    state.highlightRenderer = L.canvas({ pane: 'gm-highlight' });
    map.createPane('gm-own').style.zIndex = 455;
    map.getPane('gm-own').style.pointerEvents = 'none';
    state.ownRenderer = L.canvas({ pane: 'gm-own' });

    if (CONFIG.tile_url) {
      L.tileLayer(CONFIG.tile_url, { attribution: esc(CONFIG.tile_attribution || ''), maxZoom: 19 }).addTo(map);
    }
    map.on('click', (ev) => {
      const hit = state.cellLayer && state.cellLayer.hitAt ? state.cellLayer.hitAt(ev.latlng) : null;
      selectCell(hit || null);
    });
    map.on('zoomend moveend', onViewChange);
    state.map = map;
    addUnitsLayer();

    if (window.ResizeObserver) {
      state.resizeObserver = new ResizeObserver(() => { map.invalidateSize({ debounceMoveend: true }); fitFollowBox(); });
      state.resizeObserver.observe($('gm-map'));
    }
  }

  function teardownMap() {
    state.loadSeq += 1; // drop any load in flight
    document.body.removeAttribute('data-ready');
    if (state.resizeObserver) { state.resizeObserver.disconnect(); state.resizeObserver = null; }
    if (state.map) { state.map.remove(); state.map = null; }
    Object.assign(state, {
      shapes: new Map(), cities: [], city: null, cells: null, classes: [], selected: null, cellLayer: null, districtLayers: [],
      hoverOutline: null, selectedOutline: null, highlightRenderer: null, ownRenderer: null, ownOutline: null,
      detail: null, area: null, areaOpen: false, ownCells: [],
      layerLevel: null, pendingLevel: null, layerBox: null, cityRow: null, children: null, customers: null, people: null, compare: [],
      featureGrids: null, fg: null, fgOutline: null, search: null, unit: null, unitsLayer: null, unitMarker: null, street: false,
      sweep: null, levelBeforeSweep: null, follow: null,
    });
    state.mv = { metric: 'penetration', level: 'cell', method: 'quantile', asOf: '', period: '', path: [] };
    closeModal();
    renderFgBox();
    renderSearch();
    renderArea();
    renderFollow();
    delete window.gmMap;
    setMapStatus(null);
    renderLegend();
    renderPanel();
    $('gm-panel').classList.remove('is-open');
  }

  function setMapStatus(key, isError = false) {
    state.statusKey = key;
    const box = $('gm-map-status');
    box.hidden = !key;
    box.classList.toggle('is-error', Boolean(key) && isError);
    $('gm-map-status-text').textContent = key ? t(key) : '';
  }

  async function loadCities() {
    const seq = ++state.loadSeq;
    setMapStatus('map.loading');
    let cities;
    try {
      const early = state.citiesEarly;
      state.citiesEarly = null;
      cities = ((early && (await early)) || (await api('/api/v1/cities'))).cities || [];
    } catch (err) {
      if (seq === state.loadSeq && !handleApiFailure(err)) setMapStatus('map.error', true);
      return;
    }
    if (seq !== state.loadSeq) return;
    state.cities = cities;
    renderCityPicker();
    if (!cities.length) {
      setMapStatus('map.nocity');
      markReady();
      return;
    }
    // the main city: the first with the most units
    const main = cities.reduce((best, c) => ((c.units || 0) > (best.units || 0) ? c : best), cities[0]);
    await loadCity(main.code);
  }

  function renderCityPicker() {
    const cities = state.cities;
    $('gm-header-tools').hidden = !cities.length;
    const select = $('gm-city-select');
    select.replaceChildren(...cities.map((c) => new Option(c.name, c.code)));
    $('gm-city-wrap').hidden = cities.length < 2;
    $('gm-city-name').hidden = cities.length !== 1;
    $('gm-city-name').textContent = cities.length === 1 ? cities[0].name : '';
    // the admin forms offer the cities (a page opened on #/admin drew them before the cities came)
    const a = state.admin;
    if (state.view === 'admin' && a && a.tab) {
      renderAdmin();
      if (a.tab === 'users' || a.tab === 'org') loadDistricts();
    }
  }

  async function loadCity(code) {
    const seq = ++state.loadSeq;
    document.body.removeAttribute('data-ready');
    state.city = state.cities.find((c) => c.code === code) || null;
    state.mv.path = [];
    state.cityRow = null;
    $('gm-city-select').value = code;
    setMapStatus('map.loading');
    if (!state.map) return;
    // the view from the city's extent; the district outlines and the areas load side by side
    state.districtLayers.forEach((l) => l.remove());
    state.districtLayers = [];
    const fitted = fitCity();
    const districts = api(`/api/v1/cities/${encodeURIComponent(code)}/districts`).then((fc) => {
      if (!state.map || !state.city || state.city.code !== code) return;
      drawDistricts(fc);
      if (!fitted) fitCity();
    }).catch((err) => {
      if (seq <= state.loadSeq && !handleApiFailure(err)) setMapStatus('map.error', true);
    });
    await Promise.all([districts, loadLayer()]);
    // the overview card's city figures once the map is drawn (they do not colour anything)
    if (state.city && state.city.code === code) loadCityRow(code);
  }

  /** The city's own figures (metrics at level city) for the overview card. */
  async function loadCityRow(code) {
    try {
      const q = viewParams({ level: 'city', city: code });
      const body = await api(`/api/v1/metrics?${q}`);
      if (!state.city || state.city.code !== code) return;
      state.cityRow = (body.areas || []).find((a) => String(a.code) === code) || null;
      mergeSweepAround();
      if (!state.selected) renderPanel();
    } catch (err) {
      handleApiFailure(err);
    }
  }

  function fitCity() {
    const city = state.city;
    if (city && Array.isArray(city.bbox) && city.bbox.length === 4 && city.bbox.every(isNum)) {
      const [minx, miny, maxx, maxy] = city.bbox;
      const bounds = L.latLngBounds([miny, minx], [maxy, maxx]);
      if (bounds.isValid()) { state.map.fitBounds(bounds, { padding: [24, 24], animate: false }); return true; }
    }
    const lines = state.districtLayers[1];
    if (lines && lines.getBounds().isValid()) { state.map.fitBounds(lines.getBounds(), { padding: [24, 24], animate: false }); return true; }
    return false;
  }

  /** Query parameters shared by every metric request: as-of date and period. */
  function viewParams(extra) {
    const q = new URLSearchParams(extra);
    if (state.mv.asOf) q.set('as_of', state.mv.asOf);
    if (state.mv.period) q.set('period', state.mv.period);
    return q;
  }

  /** The level asked of the API: H3 takes its resolution from the zoom. */
  function apiLevel() {
    if (state.mv.level !== 'h3') return state.mv.level;
    const zoom = state.map && state.map._loaded ? state.map.getZoom() : 11;
    return `h3:${h3Resolution(zoom)}`;
  }

  /** Load and draw the areas of the chosen level (inside the drilled-into area, if any). */
  async function loadLayer({ select = null, keepUnit = false } = {}) {
    if (!state.city || !state.map) return;
    const seq = ++state.loadSeq;
    document.body.removeAttribute('data-ready');
    if (sweepOn() && state.mv.level !== 'cell') state.mv.level = 'cell'; // sweeps are counted per cell
    const level = apiLevel();
    const q = viewParams({ level, city: state.city.code, format: 'geojson' });
    const last = state.mv.path[state.mv.path.length - 1];
    if (last) q.set(last.level, last.id);
    let box = null;
    if (level.startsWith('h3:') && Number(level.slice(3)) >= 10) {
      // fine hexagons: only around the view
      box = state.map.getBounds().pad(0.5);
      q.set('bbox', [box.getWest(), box.getSouth(), box.getEast(), box.getNorth()].map((v) => v.toFixed(6)).join(','));
    }
    state.pendingLevel = level;
    setMapStatus('map.loading');
    let fc;
    try {
      const sq = new URLSearchParams(q);
      sq.delete('format');
      sq.delete('period');
      q.set('format', 'table');
      const [table, shapes] = await Promise.all([
        api(`/api/v1/metrics?${q}`), loadShapes(sq), sweepOn() ? ensureSweep() : null,
      ]);
      fc = areaFeatures(table, shapes);
    } catch (err) {
      if (seq === state.loadSeq && !handleApiFailure(err)) setMapStatus('map.error', true);
      return;
    }
    if (seq !== state.loadSeq || !state.map) return;
    state.pendingLevel = null;
    state.layerLevel = level;
    state.layerBox = box;
    if (sweepOn()) ((fc && fc.features) || []).forEach((f) => mergeSweep(f.properties));
    drawAreas(fc);
    if (sweepOn()) { mergeSweepAround(); renderPanel(); }
    if (!state.city.bbox && !last && state.cellLayer.getBounds().isValid()) state.map.fitBounds(state.cellLayer.getBounds());
    setMapStatus(fc.features && fc.features.length ? null : 'map.nocells');
    if (select) {
      const layer = state.cellLayer.getLayers().find((l) => String(l.feature.properties.code) === String(select));
      if (layer) selectCell(layer, keepUnit);
    }
    markReady();
  }

  /**
   * The outlines of the areas of a level (GET /api/v1/metrics/shapes), kept while unchanged: the
   * browser revalidates them (ETag) and the decoded answer is reused when the ETag is the same.
   */
  async function loadShapes(q) {
    const path = `/api/v1/metrics/shapes?${q}`;
    const res = await fetch(path, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    if (!res.ok) {
      const data = await res.json().catch(() => null);
      throw new ApiError(res.status, ...errorOf(data), data);
    }
    const etag = res.headers.get('etag');
    const kept = state.shapes.get(path);
    if (etag && kept && kept.etag === etag) return kept.body;
    const body = await res.json();
    state.shapes.set(path, { etag, body });
    if (state.shapes.size > 12) state.shapes.delete(state.shapes.keys().next().value);
    return body;
  }

  /** Features (id, properties, rings) from a metrics table and the outlines of its areas. */
  function areaFeatures(table, shapes) {
    const keys = (table && table.keys) || [];
    const ringsOf = new Map();
    const codes = (shapes && shapes.codes) || [];
    codes.forEach((code, i) => ringsOf.set(String(code), shapes.rings[i]));
    const features = ((table && table.rows) || []).map((row) => {
      const properties = {};
      for (let i = 0; i < keys.length; i++) properties[keys[i]] = row[i];
      return { type: 'Feature', id: properties.id, properties, rings: ringsOf.get(String(properties.id)) || [] };
    });
    return { type: 'FeatureCollection', features, scale: (shapes && shapes.scale) || 1 };
  }

  const STREET_ZOOM = 15;
  const isStreet = () => Boolean(state.map && state.map._loaded && state.map.getZoom() >= STREET_ZOOM);

  /** At street zoom the areas fade so that the address dots stand out. */
  function applyStreetStyle() {
    const street = isStreet();
    if (street === state.street) return;
    state.street = street;
    if (state.cellLayer) state.cellLayer.setStyle({ fillOpacity: street ? 0.3 : CELL_STYLE.fillOpacity });
    renderLegend();
  }

  /** Follow the zoom with the H3 resolution (and the view with fine hexagons). */
  function onViewChange() {
    applyStreetStyle();
    if (!state.city || state.mv.level !== 'h3') return;
    const level = apiLevel();
    if (level === (state.pendingLevel || state.layerLevel)) {
      if (!state.layerBox || state.pendingLevel || state.layerBox.contains(state.map.getBounds())) return;
    }
    clearTimeout(state.viewTimer);
    state.viewTimer = setTimeout(() => loadLayer(), 150);
  }

  /** Run fn after the next frame has been painted. */
  function afterPaint(fn) {
    requestAnimationFrame(() => requestAnimationFrame(fn));
  }

  function markReady() {
    // flag the page as drawn once the canvas has painted
    const seq = state.loadSeq;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      if (seq === state.loadSeq) document.body.dataset.ready = '1';
    }));
  }

  /** Colours of k classes taken evenly from a 5-colour ramp. */
  function rampColours(ramp, m) {
    return m === 1 ? [ramp[2]] : Array.from({ length: m }, (_, i) => ramp[Math.round((i * (ramp.length - 1)) / (m - 1))]);
  }

  /** Quantile classes over the values: non-empty, non-overlapping [min, max] ranges of actual values. */
  function quantileClasses(values, k = N_CLASSES, ramp = RAMP) {
    const sorted = values.filter(isNum).sort((a, b) => a - b);
    if (!sorted.length) return [];
    const uniq = [];
    const cum = []; // number of values ≤ uniq[i]
    sorted.forEach((v, i) => {
      if (uniq.length && uniq[uniq.length - 1] === v) cum[cum.length - 1] = i + 1;
      else { uniq.push(v); cum.push(i + 1); }
    });
    const n = sorted.length;
    const m = Math.min(k, uniq.length);
    const ends = [];
    let prev = -1;
    for (let i = 1; i < m; i++) {
      // cut where the running count is nearest i/m of the values, keeping room for the classes left
      const target = (n * i) / m;
      const last = uniq.length - (m - i) - 1;
      let best = prev + 1;
      for (let j = prev + 2; j <= last; j++) {
        if (Math.abs(cum[j] - target) < Math.abs(cum[best] - target)) best = j;
      }
      ends.push(best);
      prev = best;
    }
    ends.push(uniq.length - 1);
    const colours = rampColours(ramp, m);
    let start = 0;
    return ends.map((end, i) => {
      const cls = { min: uniq[start], max: uniq[end], color: colours[i], count: cum[end] - (start ? cum[start - 1] : 0) };
      start = end + 1;
      return cls;
    });
  }

  /** Natural breaks (Jenks), by the optimal 1-D k-means of simple-statistics (ckmeans). */
  function jenksClasses(values, k = N_CLASSES, ramp = RAMP) {
    const nums = values.filter(isNum);
    if (!nums.length) return [];
    const m = Math.min(k, new Set(nums).size);
    const clusters = window.ss.ckmeans(nums, m);
    const colours = rampColours(ramp, clusters.length);
    return clusters.map((c, i) => ({ min: c[0], max: c[c.length - 1], color: colours[i], count: c.length }));
  }

  /** The value an area shows for a metric: a number, a category key, or null (no data). */
  function valueOf(p, key = state.mv.metric) {
    if (!p) return null;
    if (key === 'status_mix') {
      let best = null;
      STATUSES.forEach((s) => { const n = p[`n_${s.key}`] || 0; if (n > 0 && (!best || n > best.n)) best = { key: s.key, n }; });
      return best ? best.key : null;
    }
    if (key === 'rival_mix') {
      const mix = p.rival_mix || {};
      let best = null;
      Object.keys(mix).sort().forEach((name) => { if (mix[name] > 0 && (!best || mix[name] > best.n)) best = { key: name, n: mix[name] }; });
      return best ? best.key : null;
    }
    return isNum(p[key]) ? p[key] : null;
  }

  const rivalLabel = (name) => (name === 'unknown' ? t('rival.unknown') : name);

  /** The classes of the metric shown over the areas drawn. */
  function classify(features) {
    const def = metricDef(state.mv.metric);
    const values = features.map((f) => valueOf(f.properties));
    if (def.key === 'status_mix') {
      return STATUSES.map((s) => ({ key: s.key, color: s.color, count: values.filter((v) => v === s.key).length }));
    }
    if (def.key === 'rival_mix') {
      const counts = {};
      values.forEach((v) => { if (v !== null) counts[v] = (counts[v] || 0) + 1; });
      return Object.keys(counts).sort((a, b) => counts[b] - counts[a] || a.localeCompare(b))
        .map((key, i) => ({ key, color: RIVAL_COLORS[i % RIVAL_COLORS.length], count: counts[key] }));
    }
    const ramp = RAMPS[def.ramp] || RAMP;
    return state.mv.method === 'jenks' ? jenksClasses(values, N_CLASSES, ramp) : quantileClasses(values, N_CLASSES, ramp);
  }

  function colorFor(value) {
    if (value === null || value === undefined) return NO_DATA;
    const cls = typeof value === 'string'
      ? state.classes.find((c) => c.key === value)
      : state.classes.find((c) => isNum(value) && value >= c.min && value <= c.max);
    return cls ? cls.color : NO_DATA;
  }

  /** A metric value as the page shows it. */
  function fmtMetric(key, v) {
    const def = metricDef(key);
    if (key === 'area_km2') return isNum(v) ? v.toFixed(2) : '—';
    if (def.fmt === 'category') return v === null || v === undefined ? t('legend.nodata') : key === 'status_mix' ? t(`status.${v}`) : rivalLabel(v);
    if (!isNum(v)) return def.fmt === 'pct' ? t('legend.nodata') : '—';
    if (def.fmt === 'pct') return pct(v);
    if (def.fmt === 'money') return money(v);
    if (def.fmt === 'density') return `${money(v)}/km²`;
    return int(v);
  }

  /** A class bound in the legend: compact for money. */
  function fmtBound(key, v) {
    const def = metricDef(key);
    if (def.fmt === 'money') return `¥${nfInt.format(v)}`;
    if (def.fmt === 'density') return `¥${nfInt.format(v)}`;
    return fmtMetric(key, v);
  }

  const cellCode = (f) => (f.id !== undefined && f.id !== null ? String(f.id) : String(f.properties.code));

  function drawDistricts(districtsFc) {
    const map = state.map;
    state.districtLayers.forEach((l) => l.remove());
    const fillRenderer = L.canvas({ pane: 'gm-district-fill' });
    const lineRenderer = L.canvas({ pane: 'gm-district-line' });
    const districtFill = L.geoJSON(districtsFc, {
      renderer: fillRenderer,
      interactive: false,
      style: { stroke: false, fillColor: '#f8f9fb', fillOpacity: 1 },
    }).addTo(map);
    const districtLine = L.geoJSON(districtsFc, {
      renderer: lineRenderer,
      interactive: false,
      style: { weight: 2.2, color: '#1b2a3a', opacity: 0.85, fill: false },
      onEachFeature: (f, layer) => {
        const name = f.properties && f.properties.name;
        if (name) {
          layer.bindTooltip(esc(name), { permanent: true, direction: 'center', className: 'gm-district-label', opacity: 1 });
        }
      },
    }).addTo(map);
    state.districtLayers = [districtFill, districtLine];
  }

  function drawAreas(fc) {
    const map = state.map;
    if (state.cellLayer) state.cellLayer.remove();
    state.hoverOutline = outline(state.hoverOutline, null);
    state.selectedOutline = outline(state.selectedOutline, null);
    state.ownOutline = outline(state.ownOutline, null);
    state.selected = null;
    state.detail = null;
    state.children = null;
    state.customers = null;

    const features = (fc && fc.features) || [];
    state.cells = features;
    state.classes = classify(features);
    const colorOf = {};
    const level = state.layerLevel;
    const style = level === 'district' || level === 'grid' ? { ...CELL_STYLE, weight: 1.2 } : CELL_STYLE;

    state.street = isStreet();
    const areas = features.map((f) => {
      const color = colorFor(valueOf(f.properties));
      colorOf[cellCode(f)] = color;
      const { rings } = f;
      delete f.rings;
      return { feature: f, rings, color };
    });
    const cellLayer = window.gmAreasLayer({
      ...style,
      fillOpacity: state.street ? 0.3 : style.fillOpacity,
      tooltip: (h) => tooltipHtml(h.feature.properties),
      onHover: (h) => { state.hoverOutline = outline(state.hoverOutline, h ? h.feature : null, HOVER_STYLES); },
    }).setAreas(areas, fc.scale || 1).addTo(map);
    state.cellLayer = cellLayer;

    window.gmMap = {
      map,
      cellLayer,
      level,
      metric: state.mv.metric,
      method: state.mv.method,
      classes: state.classes.map(({ min, max, key, color }) => (key !== undefined ? { key, color } : { min, max, color })),
      colorOf,
      noDataColor: NO_DATA,
      city: state.city ? state.city.code : null,
      ownCells: [],
      fgCells: state.fg && state.fg.codes ? state.fg.codes.slice() : [],
    };
    applyArea(false);
    applyFeatureGrid(false);
    renderControls();
    renderLegend();
    renderPanel();
    const last = state.mv.path[state.mv.path.length - 1];
    // the panel's lists (sub-areas, top customers, people) once the areas are painted
    const area = last ? [last.level, last.id] : state.city ? ['city', state.city.code] : null;
    if (area) afterPaint(() => { if (state.cellLayer === cellLayer && !state.selected) loadChildren(...area); });
  }

  /** Replace an outline overlay of one feature or a list (or remove it when null); returns the new overlay. */
  function outline(current, feature, styles = [], pane = 'gm-highlight') {
    if (current) current.remove();
    if (!feature || !state.map) return null;
    const renderer = pane === 'gm-own' ? state.ownRenderer : state.highlightRenderer;
    const group = L.layerGroup(styles.map((style) => L.geoJSON(feature, {
      pane, renderer, interactive: false, style,
    })));
    return group.addTo(state.map);
  }

  // ---------------------------------------------------------------- my area

  /** The codes of the cells to outline as the user's own: their cells, or the cells of their districts. */
  function ownCodes(data) {
    if (!data || data.everything) return [];
    if (Array.isArray(data.cells) && data.cells.length) return data.cells.map(String);
    if (Array.isArray(data.districts) && data.districts.length) {
      const names = new Set(data.districts.map((d) => d.name));
      return (state.cells || []).filter((f) => names.has(f.properties.district_name)).map(cellCode);
    }
    return [];
  }

  const areaData = () => (state.areaOpen && state.area && state.area.status === 'ok' ? state.area.data : null);

  /** Outline the user's own cells of the city shown; with fit, zoom to the area. */
  function applyArea(fit) {
    const data = areaData();
    const wanted = new Set(ownCodes(data));
    const features = (state.cells || []).filter((f) => wanted.has(cellCode(f)));
    state.ownCells = features.map(cellCode);
    state.ownOutline = outline(state.ownOutline, features.length ? features : null, OWN_STYLES, 'gm-own');
    if (window.gmMap) window.gmMap.ownCells = state.ownCells.slice();
    if (fit && data && state.map) fitArea(data, features);
  }

  function fitArea(data, features) {
    const map = state.map;
    let bounds = null;
    const box = data.everything && state.city ? state.city.bbox : data.bbox;
    if (Array.isArray(box) && box.length === 4 && box.every(isNum)) {
      bounds = L.latLngBounds([box[1], box[0]], [box[3], box[2]]);
    }
    if ((!bounds || !bounds.isValid()) && features.length) bounds = L.geoJSON(features).getBounds();
    if (!bounds || !bounds.isValid()) return;
    // keep the area clear of the summary box on the left
    const panel = $('gm-area');
    const wide = map.getSize().x > 700 && panel && !panel.hidden;
    const left = wide ? panel.offsetWidth + 40 : 32;
    map.fitBounds(bounds, { paddingTopLeft: [left, 40], paddingBottomRight: [56, 40], maxZoom: 17 });
  }

  async function openMyArea() {
    if (state.areaOpen && state.area && state.area.status !== 'loading') { closeMyArea(); return; }
    if (state.follow && state.follow.open) { state.follow.open = false; renderFollow(); }
    state.areaOpen = true;
    state.area = { status: 'loading', data: null };
    renderArea();
    let data;
    try {
      data = await api('/api/v1/me/area');
    } catch (err) {
      if (handleApiFailure(err) || !state.areaOpen) return;
      state.area = { status: 'error', data: null };
      renderArea();
      return;
    }
    if (!state.areaOpen) return;
    state.area = { status: 'ok', data };
    renderArea();
    // go to the area's city when the city shown is not in it
    const codes = (data.cities || []).map((c) => c.code);
    const target = !data.everything && state.city && !codes.includes(state.city.code)
      ? state.cities.find((c) => codes.includes(c.code)) : null;
    if (target) await loadCity(target.code);
    applyArea(true);
  }

  function closeMyArea() {
    state.areaOpen = false;
    state.area = null;
    applyArea(false);
    renderArea();
  }

  /** Names of a list, the first few and "and n more". */
  function someNames(list, max = 6) {
    const names = list.map((x) => x.name || x.code);
    const sep = state.lang === 'en' ? ', ' : '、';
    const head = names.slice(0, max).join(sep);
    return names.length > max ? `${head} ${tf('area.more', { n: names.length - max })}` : head;
  }

  function renderArea() {
    const box = $('gm-area');
    const btn = $('gm-myarea');
    btn.setAttribute('aria-pressed', String(state.areaOpen));
    box.hidden = !state.areaOpen;
    if (!state.areaOpen) { box.replaceChildren(); return; }
    const head = html`
      <div class="gm-area-head">
        <span class="gm-area-icon" aria-hidden="true"></span>
        <h2 class="gm-area-title">${t('area.title')}</h2>
        <button type="button" class="gm-area-close" data-area-action="close" aria-label="${t('panel.close')}" title="${t('panel.close')}">&times;</button>
      </div>`;
    const a = state.area || {};
    if (a.status !== 'ok') {
      box.innerHTML = html`${head}${a.status === 'error'
        ? html`<p class="gm-inline-error">${t('area.error')}</p>`
        : html`<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('area.loading')}</p>`}`.s;
      return;
    }
    const d = a.data;
    const u = state.user || {};
    const role = (state.lang === 'en' ? u.role_name_en : u.role_name_zh) || t(`role.${d.role}`);
    const every = t('area.everything');
    const cityWide = !d.everything && !(d.districts || []).length && !(d.grids || []).length
      && !(d.feature_grids || []).length && !(d.cells || []).length;
    const list = (items, fallback) => (items && items.length ? someNames(items) : fallback);
    const fgs = d.feature_grids || [];
    const own = ownCodes(d);
    box.innerHTML = html`
      ${head}
      <div class="gm-area-role">${role}${u.scope_name ? ` · ${u.scope_name}` : ''}</div>
      ${d.everything ? html`<div class="gm-area-all"><span class="gm-area-all-badge">${every}</span>${t('area.everythingNote')}</div>` : ''}
      <dl class="gm-kv gm-area-kv">
        <dt>${t('area.cities')}</dt><dd>${d.everything ? every : list(d.cities, '—')}</dd>
        <dt>${t('area.districts')}</dt><dd>${d.everything ? every : list(d.districts, cityWide ? t('area.wholeCity') : '—')}</dd>
        <dt>${t('area.grids')}</dt><dd>${d.everything ? every : list(d.grids, cityWide ? t('area.wholeCity') : (d.districts || []).length ? t('area.wholeDistrict') : '—')}</dd>
        <dt>${t('area.featureGrids')}</dt><dd>${d.everything ? every
          : fgs.length ? html`<span class="gm-chips gm-chips-right">${fgs.map((f) => html`<span class="gm-chip" title="${label('type', f.type)}">${f.name || f.code}</span>`)}</span>` : '—'}</dd>
        <dt>${t('area.cells')}</dt><dd class="gm-area-num" data-key="cells">${int(d.cell_count)}</dd>
        <dt>${t('area.customers')}</dt><dd class="gm-area-num" data-key="customers">${d.everything ? every : int(d.customers)}</dd>
      </dl>
      ${own.length ? html`<div class="gm-area-legend"><span class="gm-area-swatch"></span>${t('area.legend')}</div>`
        : !d.everything && !cityWide && !d.cell_count ? html`<p class="gm-axis-empty">${t('area.noCells')}</p>` : ''}`.s;
  }

  /** The level of an area drawn on the map: its feature's own level (h3:9, cell, ...). */
  const levelOf = (p) => String((p && p.level) || state.layerLevel || 'cell');
  const levelName = (level) => t(`level.${String(level).startsWith('h3') ? 'h3' : level}`);

  function selectCell(layer, keepUnit = false) {
    if (state.unit && !keepUnit) { state.unit = null; markUnit(null); }
    state.selected = layer;
    state.selectedOutline = outline(state.selectedOutline, layer ? layer.feature : null, SELECTED_STYLES);
    $('gm-panel').classList.toggle('is-open', Boolean(layer));
    const p = layer ? layer.feature.properties : null;
    const code = p ? String(p.code) : null;
    if (!code) { state.detail = null; state.children = null; state.customers = null; }
    else if (levelOf(p) === 'cell') {
      if (!state.detail || state.detail.code !== code) {
        $('gm-panel').scrollTop = 0;
        loadCellDetail(code);
        loadCellUnits(code);
        loadChildren('cell', code);
        loadFieldWork(code);
      }
    } else {
      state.detail = null;
      $('gm-panel').scrollTop = 0;
      if (CHILD_LEVEL[levelOf(p)]) loadChildren(levelOf(p), code);
      else { state.children = null; state.customers = null; }
    }
    renderPanel();
  }

  const CUSTOMER_LEVELS = ['cell', 'grid', 'district', 'city', 'feature_grid'];

  /** The area's customers with the most monthly revenue (over the units the user may read). */
  async function loadTopCustomers(level, id) {
    const key = `${level}:${id}`;
    if (!CUSTOMER_LEVELS.includes(level)) { state.customers = null; return; }
    state.customers = { key, status: 'loading', rows: [] };
    try {
      const body = await api(`/api/v1/areas/${encodeURIComponent(level)}/${encodeURIComponent(id)}/top-customers?limit=10`);
      if (!state.customers || state.customers.key !== key) return;
      state.customers = { key, status: 'ok', rows: body.customers || [] };
    } catch (err) {
      if (handleApiFailure(err) || !state.customers || state.customers.key !== key) return;
      state.customers.status = 'error';
    }
    renderPanel();
  }

  function customersSection() {
    const c = state.customers;
    if (!c) return '';
    let body;
    if (c.status === 'loading') body = html`<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p>`;
    else if (c.status === 'error') body = html`<p class="gm-inline-error">${t('card.loadError')}</p>`;
    else if (!c.rows.length) body = html`<p class="gm-axis-empty">${t('card.noCustomers')}</p>`;
    else {
      body = html`<ol class="gm-customers">${c.rows.map((r, i) => html`
        <li class="gm-customer" data-customer="${r.code}">
          <button type="button" class="gm-customer-btn" data-open-unit="${r.first_unit}">
            <span class="gm-customer-rank">${i + 1}</span>
            <span class="gm-customer-main"><span class="gm-customer-name">${r.name}</span>
              <span class="gm-customer-meta">${r.industry || '—'} · ${tf('card.units', { n: int(r.units) })}${r.rival_units ? html` · <span class="gm-customer-rival">${t('status.other_network')} ${int(r.rival_units)}</span>` : ''}</span></span>
            <span class="gm-customer-revenue">${money(r.revenue)}</span>
          </button>
        </li>`)}</ol>`;
    }
    return html`
      <section class="gm-section gm-top-customers">
        <h3 class="gm-section-title gm-section-row"><span>${t('card.topCustomers')}</span>
          ${c.status === 'ok' && c.rows.length ? html`<span class="gm-section-count">${tf('card.topCustomersNote', { n: c.rows.length })}</span>` : ''}</h3>
        ${body}
      </section>`;
  }

  const PEOPLE_LEVELS = ['grid', 'district', 'city', 'feature_grid'];

  /** Who answers for an area above the cell (GET /api/v1/areas/{level}/{code}/people). */
  async function loadPeople(level, id) {
    const key = `${level}:${id}`;
    if (!PEOPLE_LEVELS.includes(level)) { state.people = null; return; }
    if (state.people && state.people.key === key && state.people.status !== 'error') return;
    state.people = { key, status: 'loading', data: null };
    try {
      const body = await api(`/api/v1/areas/${encodeURIComponent(level)}/${encodeURIComponent(id)}/people?limit=8`);
      if (!state.people || state.people.key !== key) return;
      state.people = { key, status: 'ok', data: body };
    } catch (err) {
      if (handleApiFailure(err) || !state.people || state.people.key !== key) return;
      state.people.status = 'error';
    }
    renderPanel();
  }

  function unitItem(u) {
    const heads = u.heads || [];
    return html`
      <li class="gm-person gm-person-unit" data-unit-code="${u.org_unit_code}">
        <span class="gm-person-avatar gm-via-bg-grid" aria-hidden="true">${initial(u.org_unit_name)}</span>
        <div class="gm-person-main">
          <div class="gm-person-name">${u.org_unit_name || u.org_unit_code}<span class="gm-person-post">${label('orgkind', u.org_unit_kind)}</span></div>
          <div class="gm-person-org">${heads.length
            ? html`${t('people.head')}：${heads.map((h) => (h.post ? `${h.name}（${h.post}）` : h.name)).join('、')}`
            : t('people.noHead')}</div>
        </div>
        ${isNum(u.staff_count) ? html`<span class="gm-via gm-via-grid">${tf('people.staff', { n: int(u.staff_count) })}</span>` : ''}
      </li>`;
  }

  function holderItem(person, meta) {
    return html`
      <li class="gm-person" data-staff="${person.staff_code}" data-via="${person.via || ''}">
        <span class="gm-person-avatar gm-via-bg-${person.via || ''}" aria-hidden="true">${initial(person.name)}</span>
        <div class="gm-person-main">
          <div class="gm-person-name">${person.name || person.staff_code}${person.post ? html`<span class="gm-person-post">${person.post}</span>` : ''}</div>
          <div class="gm-person-org">${person.org_unit_name || '—'}</div>
        </div>
        <span class="gm-via gm-via-${person.via || ''}">${meta}</span>
      </li>`;
  }

  function fgItem(f) {
    const holders = f.holders || [];
    return html`
      <li class="gm-person gm-person-fg" data-fg="${f.code}">
        <span class="gm-person-avatar gm-via-bg-feature_grid" aria-hidden="true">${initial(label('type', f.type) || f.name)}</span>
        <div class="gm-person-main">
          <div class="gm-person-name">${f.name || f.code}${f.type ? html`<span class="gm-person-post">${label('type', f.type)}</span>` : ''}</div>
          <div class="gm-person-org">${holders.length
            ? html`${t('people.holders')}：${holders.map((h) => (h.org_unit_name ? `${h.name}（${h.org_unit_name}）` : h.name)).join('、')}`
            : t('people.noHolder')}</div>
        </div>
        <span class="gm-via gm-via-feature_grid">${tf('people.fgCells', { n: int(f.cells || 0) })}</span>
      </li>`;
  }

  /** The matrix section of a grid, district, city or characteristic grid card. */
  function areaPeopleSection(level, p) {
    const title = html`<h3 class="gm-section-title">${t('card.matrix')}</h3>`;
    const s = state.people;
    const key = `${level}:${p.code ?? p.id}`;
    if (!s || s.key !== key || s.status === 'loading') {
      return html`<section class="gm-matrix gm-area-people is-loading">${title}
        <p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p></section>`;
    }
    if (s.status === 'error') {
      return html`<section class="gm-matrix gm-area-people">${title}<p class="gm-inline-error">${t('card.loadError')}</p></section>`;
    }
    const d = s.data || {};
    const cov = d.coverage || {};
    const reg = d.regional || {};
    const spec = d.specialist || {};
    const gms = reg.grid_managers || [];
    const ams = level === 'city' ? [] : (reg.account_managers || []);
    const coverage = [
      isNum(cov.cells) ? tf('people.coverage', { a: int(cov.cells_with_account_manager || 0), b: int(cov.cells) }) : '',
      level !== 'grid' && isNum(cov.grids) ? tf('people.gridCoverage', { a: int(cov.grids_with_grid_manager || 0), b: int(cov.grids) }) : '',
    ].filter(Boolean);
    const moreGm = (cov.grid_managers || 0) - gms.length;
    const moreAm = (cov.account_managers || 0) - ams.length;
    const fgs = spec.feature_grids || [];
    return html`
      <section class="gm-matrix gm-area-people" data-people="${key}">
        ${title}
        ${coverage.length ? html`<p class="gm-people-coverage">${coverage.join(' · ')}${d.partial ? html` <span class="gm-muted">（${t('people.partial')}）</span>` : ''}</p>` : ''}
        <div class="gm-axis gm-axis-regional" data-axis="regional">
          <div class="gm-axis-title">${t('card.axisRegional')}</div>
          ${(reg.units || []).length ? html`<ul class="gm-people">${reg.units.map(unitItem)}</ul>` : ''}
          ${gms.length ? html`<div class="gm-axis-sub">${t('people.gridManagers')}</div>
            <ul class="gm-people">${gms.map((g) => holderItem(g, tf('people.holds', { g: int(g.grids || 0), c: int(g.cells || 0) })))}</ul>
            ${moreGm > 0 ? html`<p class="gm-people-more">${tf('people.more', { n: int(moreGm) })}</p>` : ''}` : ''}
          ${ams.length ? html`<div class="gm-axis-sub">${tf('people.accountManagers', { n: int(cov.account_managers || ams.length) })}</div>
            <ul class="gm-people">${ams.map((a) => holderItem(a, tf('people.holdsCells', { c: int(a.cells || 0) })))}</ul>
            ${moreAm > 0 ? html`<p class="gm-people-more">${tf('people.more', { n: int(moreAm) })}</p>` : ''}` : ''}
          ${!(reg.units || []).length && !gms.length && !ams.length ? html`<p class="gm-axis-empty">${t('card.nobody')}</p>` : ''}
        </div>
        <div class="gm-axis gm-axis-specialist" data-axis="specialist">
          <div class="gm-axis-title">${t('card.axisSpecialist')}</div>
          ${fgs.length ? html`<ul class="gm-people">${fgs.map(fgItem)}</ul>` : html`<p class="gm-axis-empty">${t('card.nobody')}</p>`}
        </div>
      </section>`;
  }

  /** Drill-down list of an area: the areas of the next level inside it. */
  async function loadChildren(level, id) {
    loadTopCustomers(level, id);
    loadPeople(level, id);
    const key = `${level}:${id}`;
    state.children = { key, status: 'loading', rows: [] };
    try {
      const q = viewParams({});
      const body = await api(`/api/v1/metrics/${encodeURIComponent(level)}/${encodeURIComponent(id)}/children?${q}`);
      if (!state.children || state.children.key !== key) return;
      state.children = { key, status: 'ok', rows: body.areas || [] };
      if (sweepOn()) state.children.rows.forEach(mergeSweep);
    } catch (err) {
      if (handleApiFailure(err) || !state.children || state.children.key !== key) return;
      state.children.status = 'error';
    }
    renderPanel();
  }

  // ---------------------------------------------------------------- the cell's people and addresses

  /** Who answers for the cell (both matrix axes) and its characteristic grids. */
  async function loadCellDetail(code) {
    if (!state.detail || state.detail.code !== code) {
      state.detail = { code, status: 'loading', data: null, units: [], unitsStatus: 'loading', done: false };
    }
    state.detail.status = 'loading';
    try {
      const data = await api(`/api/v1/cells/${encodeURIComponent(code)}`);
      if (!state.detail || state.detail.code !== code) return;
      Object.assign(state.detail, { status: 'ok', data });
    } catch (err) {
      if (handleApiFailure(err) || !state.detail || state.detail.code !== code) return;
      state.detail.status = 'error';
    }
    renderPanel();
  }

  /** The next page of the cell's address list. */
  async function loadCellUnits(code) {
    const d = state.detail;
    if (!d || d.code !== code) return;
    d.unitsStatus = 'loading';
    const offset = d.units.length;
    try {
      const body = await api(`/api/v1/cells/${encodeURIComponent(code)}/units?limit=${ADDR_PAGE}&offset=${offset}`);
      if (state.detail !== d || d.units.length !== offset) return;
      const rows = (body && body.units) || [];
      d.units = d.units.concat(rows);
      d.done = rows.length < ADDR_PAGE;
      d.unitsStatus = 'ok';
    } catch (err) {
      if (handleApiFailure(err) || state.detail !== d) return;
      d.unitsStatus = 'error';
    }
    renderPanel();
  }

  // ---------------------------------------------------------------- legend, tooltip, panel

  function renderLegend() {
    const list = $('gm-legend-items');
    const classes = state.classes;
    $('gm-legend').hidden = !state.cells;
    if (!state.cells) { list.replaceChildren(); return; }
    const key = state.mv.metric;
    const def = metricDef(key);
    $('gm-legend-title').textContent = t(`metric.${key}`);
    const method = def.fmt === 'category' ? t('method.category') : t(`method.${state.mv.method}`);
    const level = String(state.layerLevel || 'cell');
    let sub = tf('legend.areas', { method, level: t(`legend.count.${level.startsWith('h3') ? 'h3' : level}`) });
    if (level.startsWith('h3:')) sub += ` · ${tf('legend.h3', { r: level.slice(3) })}`;
    if (def.sweep && state.sweep) sub += ` · ${tf('sweep.period', { from: state.sweep.from, to: state.sweep.to })}`;
    $('gm-legend-sub').textContent = sub;
    const nulls = state.cells.filter((f) => valueOf(f.properties) === null).length;
    const range = (c) => (c.min === c.max ? fmtBound(key, c.min) : `${fmtBound(key, c.min)} – ${fmtBound(key, c.max)}`);
    const item = (color, text, count, extra, attrs) => html`
      <li class="gm-legend-item${extra}" data-color="${color}"${attrs}>
        <span class="gm-swatch" style="background:${color}"></span>
        <span class="gm-legend-label">${text}</span>
        <span class="gm-legend-count">${int(count)}</span>
      </li>`;
    const rows = def.fmt === 'category'
      ? classes.map((c) => item(c.color, fmtMetric(key, c.key), c.count, '', new Raw(` data-key="${esc(c.key)}"`)))
      : classes.slice().reverse().map((c) => item(c.color, range(c), c.count, '', new Raw(` data-min="${c.min}" data-max="${c.max}"`)));
    list.innerHTML = toHtml([...rows, item(NO_DATA, t('legend.nodata'), nulls, ' is-nodata', '')]);
    const dots = $('gm-legend-dots');
    dots.hidden = !state.street || !state.unitsLayer;
    dots.innerHTML = dots.hidden ? '' : html`<div class="gm-legend-dots-title">${t('legend.dots')}</div>
      <div class="gm-legend-dots-items">${STATUSES.map((x) => html`<span class="gm-legend-dot" data-status="${x.key}"><span class="gm-dot" style="background:${x.color}"></span>${t(`status.${x.key}`)}</span>`)}</div>`.s;
    fitFollowBox();
  }

  function tooltipHtml(p) {
    const key = state.mv.metric;
    const extra = key === 'penetration' ? ''
      : key === 'sweep_coverage' ? html`<div class="gm-tip-row" data-key="sweep"><span>${t('sweep.visitedUnits')}</span><b>${int(p.sweep_visited)} / ${int(p.sweep_units)}</b></div>`
        : html`<div class="gm-tip-row"><span>${t('field.penetration')}</span><b>${pct(p.penetration)}</b></div>`;
    return html`
      <div class="gm-tip-name">${p.name || p.code}</div>
      <div class="gm-tip-level">${levelName(levelOf(p))}${p.name && p.code && p.name !== p.code ? ` · ${p.code}` : ''}</div>
      <div class="gm-tip-row gm-tip-main"><span>${t(`metric.${key}`)}</span><b>${fmtMetric(key, valueOf(p))}</b></div>
      ${extra}
      <div class="gm-tip-row"><span>${t('field.units')}</span><b>${int(p.units)}</b></div>`.s;
  }

  function statusMix(counts, units) {
    const bar = STATUSES.map((s) => {
      const n = counts[s.key] || 0;
      return n > 0 && units > 0
        ? html`<span style="width:${((100 * n) / units).toFixed(3)}%;background:${s.color}" title="${t(`status.${s.key}`)} ${int(n)}"></span>`
        : '';
    });
    const rows = STATUSES.map((s) => html`
      <tr>
        <td><span class="gm-dot" style="background:${s.color}"></span>${t(`status.${s.key}`)}</td>
        <td class="gm-num">${int(counts[s.key] || 0)}</td>
        <td class="gm-num gm-muted">${pct(ratio(counts[s.key] || 0, units))}</td>
      </tr>`);
    return html`
      <h3 class="gm-section-title">${t('panel.statusMix')}</h3>
      <div class="gm-mixbar" aria-hidden="true">${bar}</div>
      <table class="gm-status-table">
        <thead><tr><th></th><th class="gm-num">${t('field.units')}</th><th class="gm-num">${t('panel.share')}</th></tr></thead>
        <tbody>${rows}</tbody>
      </table>`;
  }

  const countsOf = (p) => Object.fromEntries(STATUSES.map((s) => [s.key, p[`n_${s.key}`] || 0]));

  /** Horizontal bars of the rivals' customers. */
  function rivalMix(p) {
    const mix = p.rival_mix || {};
    const names = Object.keys(mix).filter((k) => mix[k] > 0).sort((a, b) => mix[b] - mix[a] || a.localeCompare(b));
    const top = names.length ? mix[names[0]] : 0;
    const total = names.reduce((acc, k) => acc + mix[k], 0);
    return html`
      <section class="gm-section gm-rivals">
        <h3 class="gm-section-title">${t('card.rivalMix')}</h3>
        ${names.length ? html`<ul class="gm-bars">${names.map((k, i) => html`
          <li class="gm-bar-row" data-rival="${k}">
            <span class="gm-bar-label">${rivalLabel(k)}</span>
            <span class="gm-bar-track"><span class="gm-bar" style="width:${((100 * mix[k]) / top).toFixed(2)}%;background:${RIVAL_COLORS[i % RIVAL_COLORS.length]}"></span></span>
            <span class="gm-bar-value">${int(mix[k])}<span class="gm-muted"> · ${pct(ratio(mix[k], total))}</span></span>
          </li>`)}</ul>` : html`<p class="gm-axis-empty">${t('card.noRivals')}</p>`}
      </section>`;
  }

  const CARD_METRICS = {
    share: ['penetration', 'fixed_line_penetration', 'broadband_penetration', 'long_distance_share', 'line_share', 'exclusivity'],
    money: ['revenue', 'revenue_density', 'arpa'],
    field: ['units', 'surveyed', 'coverage', 'demand', 'opportunity', 'expiring_90d', 'area_km2'],
    period: ['churned', 'won', 'new_own_lines'],
  };

  /** Every metric of METRICS.md for the area, grouped. */
  function metricTable(p) {
    const shown = state.mv.metric;
    const groups = Object.entries(CARD_METRICS).map(([g, keys]) => html`
      <tbody data-group="${g}">
        <tr class="gm-metric-group"><th colspan="2">${t(`group.${g}`)}${g === 'period' && state.mv.period ? html` <span class="gm-muted">${tf('card.period', { p: state.mv.period })}</span>` : ''}</th></tr>
        ${keys.map((k) => html`<tr data-metric="${k}" class="${k === shown ? 'is-shown' : ''}"><td>${t(`metric.${k}`)}</td><td class="gm-num">${fmtMetric(k, p[k])}</td></tr>`)}
      </tbody>`);
    if (sweepOn() && p.sweep_units !== undefined && state.sweep) {
      groups.push(html`
      <tbody data-group="fieldwork">
        <tr class="gm-metric-group"><th colspan="2">${t('group.fieldwork')} <span class="gm-muted">${tf('sweep.period', { from: state.sweep.from, to: state.sweep.to })}</span></th></tr>
        <tr data-metric="sweep_coverage" class="is-shown"><td>${t('metric.sweep_coverage')}</td><td class="gm-num">${pct(p.sweep_coverage)}</td></tr>
        <tr data-metric="sweep_visited"><td>${t('sweep.visited')}</td><td class="gm-num">${int(p.sweep_visited)}</td></tr>
        <tr data-metric="sweep_units"><td>${t('sweep.units')}</td><td class="gm-num">${int(p.sweep_units)}</td></tr>
      </tbody>`);
    }
    return html`
      <section class="gm-section">
        <h3 class="gm-section-title gm-section-row"><span>${t('card.metrics')}</span>${state.mv.asOf ? html`<span class="gm-section-count">${tf('card.asOf', { d: state.mv.asOf })}</span>` : ''}</h3>
        <table class="gm-metric-table">${groups}</table>
      </section>`;
  }

  function kpis(p) {
    const key = state.mv.metric;
    const main = valueOf(p);
    const color = colorFor(main);
    const others = ['penetration', 'coverage', 'revenue'].filter((k) => k !== key).slice(0, key === 'sweep_coverage' ? 1 : 2);
    const swept = key === 'sweep_coverage' && p.sweep_units !== undefined;
    return html`
      <div class="gm-kpis">
        <div class="gm-kpi gm-kpi-main" data-metric="${key}">
          <span class="gm-kpi-label">${t(`metric.${key}`)}</span>
          <span class="gm-kpi-value">${color !== NO_DATA ? html`<span class="gm-swatch" style="background:${color}"></span>` : ''}${fmtMetric(key, main)}</span>
        </div>
        ${swept ? html`
          <div class="gm-kpi" data-metric="sweep_visited">
            <span class="gm-kpi-label">${t('sweep.visitedUnits')}</span>
            <span class="gm-kpi-value">${int(p.sweep_visited)} / ${int(p.sweep_units)}</span>
          </div>` : ''}
        ${others.map((k) => html`
          <div class="gm-kpi" data-metric="${k}">
            <span class="gm-kpi-label">${t(`metric.${k}`)}</span>
            <span class="gm-kpi-value">${fmtMetric(k, p[k])}</span>
          </div>`)}
      </div>`;
  }

  const inCompare = (level, id) => state.compare.some((a) => a.level === level && a.id === String(id));

  /** The buttons of an area card: drill down, compare, league table. */
  function cardActions(level, p) {
    const id = String(p.code ?? p.id);
    const last = state.mv.path[state.mv.path.length - 1];
    const drilledHere = last && last.level === level && String(last.id) === id && !state.selected;
    const drill = (level === 'district' || level === 'grid' || level === 'cell') && !drilledHere;
    const rank = level === 'city' || level === 'district' || level === 'grid' || level === 'feature_grid';
    const comparable = level !== 'building';
    const inCmp = inCompare(level, id);
    return html`
      <div class="gm-card-actions">
        ${drill ? html`<button type="button" class="gm-btn gm-btn-primary gm-btn-sm" data-card-action="drill">${t('card.drill')}</button>` : ''}
        ${comparable ? html`<button type="button" class="gm-btn gm-btn-sm" data-card-action="compare" aria-pressed="${String(inCmp)}"${!inCmp && state.compare.length >= 10 ? new Raw(' disabled') : ''}>${t(inCmp ? 'card.compareIn' : 'card.compareAdd')}</button>` : ''}
        ${rank ? html`<button type="button" class="gm-btn gm-btn-sm" data-card-action="rank">${t('card.rank')}</button>` : ''}
      </div>`;
  }

  /** The drill-down list: children with the metric shown, each opening its own card. */
  function childrenSection() {
    const c = state.children;
    if (!c) return '';
    const key = state.mv.metric;
    let body;
    if (c.status === 'loading') body = html`<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p>`;
    else if (c.status === 'error') body = html`<p class="gm-inline-error">${t('card.loadError')}</p>`;
    else if (!c.rows.length) body = html`<p class="gm-axis-empty">${t('admin.empty')}</p>`;
    else {
      const vals = c.rows.map((r) => valueOf(r)).filter(isNum);
      const top = vals.length ? Math.max(...vals) : 0;
      body = html`<ul class="gm-children">${c.rows.map((r) => {
        const v = valueOf(r);
        const w = isNum(v) && top > 0 ? (100 * v) / top : 0;
        const clickable = true;
        return html`
          <li class="gm-child" data-level="${r.level}" data-id="${r.code ?? r.id}">
            <button type="button" class="gm-child-btn" data-child="${r.code ?? r.id}" data-child-level="${r.level}"${clickable ? '' : new Raw(' disabled')}>
              <span class="gm-child-name">${r.name || r.code}</span>
              <span class="gm-child-meta">${tf('card.units', { n: int(r.units) })}</span>
              <span class="gm-bar-track"><span class="gm-bar" style="width:${w.toFixed(2)}%;background:${colorFor(v) === NO_DATA ? '#ced4da' : colorFor(v)}"></span></span>
              <span class="gm-child-value">${fmtMetric(key, v)}</span>
            </button>
          </li>`;
      })}</ul>`;
    }
    const childLevel = c.rows.length ? c.rows[0].level : '';
    return html`
      <section class="gm-section gm-children-section">
        <h3 class="gm-section-title gm-section-row"><span>${t('card.children')}</span>
          ${childLevel ? html`<span class="gm-section-count">${tf('card.childrenOf', { level: levelName(childLevel), n: int(c.rows.length) })}</span>` : ''}</h3>
        ${body}
      </section>`;
  }

  function cardHead(level, p, eyebrow) {
    const source = level === 'cell' && p.source ? t(`source.${p.source}`) : '';
    return html`
      <div class="gm-card-head">
        <div class="gm-eyebrow">${eyebrow || levelName(level)}</div>
        <h2 class="gm-card-title">${p.name || p.code}</h2>
        <div class="gm-card-code">${p.code}${source ? html` · <span class="gm-badge gm-badge-${p.source}">${source}</span>` : ''}</div>
      </div>`;
  }

  /** The card of any area: its figures, its mix, who answers for it and its children. */
  function areaCard(p, level, eyebrow = null, extraClass = '') {
    const isCell = level === 'cell';
    let kv = '';
    if (isCell) {
      const type = p.type ? (I18N[state.lang][`type.${p.type}`] ? t(`type.${p.type}`) : p.type) : t('type.none');
      const grid = p.grid_name ? (p.grid_code ? `${p.grid_name}（${p.grid_code}）` : p.grid_name) : p.grid_code;
      kv = html`<dl class="gm-kv">
          <dt>${t('field.grid')}</dt><dd>${grid || '—'}</dd>
          <dt>${t('field.district')}</dt><dd>${p.district_name || '—'}</dd>
          <dt>${t('field.type')}</dt><dd>${type}</dd>
          <dt>${t('card.featureGrids')}</dt><dd class="gm-fg-cell">${featureGridChips()}</dd>
        </dl>`;
    } else if (p.district_name) {
      kv = html`<dl class="gm-kv"><dt>${t('field.district')}</dt><dd>${p.district_name}</dd></dl>`;
    }
    const people = isCell ? matrixSection() : PEOPLE_LEVELS.includes(level) ? areaPeopleSection(level, p) : '';
    const cellAttr = isCell ? new Raw(` data-cell="${esc(p.code)}"`) : '';
    return html`
      <div class="gm-card gm-area-card ${extraClass}" data-level="${level}" data-area="${p.code ?? p.id}"${cellAttr}>
        ${cardHead(level, p, eyebrow)}
        ${cardActions(level, p)}
        ${kv}
        ${kpis(p)}
        ${statusMix(countsOf(p), p.units || 0)}
        ${rivalMix(p)}
        ${people}
        ${customersSection()}
        ${metricTable(p)}
        ${isCell ? '' : childrenSection()}
        ${isCell ? fieldWorkSection() : ''}
        ${isCell ? addressSection(p) : ''}
        ${isCell ? childrenSection() : ''}
      </div>`;
  }

  function cellCard(p) {
    return areaCard(p, 'cell');
  }

  const initial = (name) => (name ? Array.from(String(name))[0] : '?');

  function personItem(person) {
    const via = person.via || '';
    const target = via === 'grid' || via === 'feature_grid' ? person.target_name || person.target_code : '';
    const unitKind = person.org_unit_kind ? label('orgkind', person.org_unit_kind) : '';
    const since = person.valid_from ? `${t('card.since')} ${person.valid_from}` : '';
    return html`
      <li class="gm-person" data-staff="${person.staff_code}" data-via="${via}">
        <span class="gm-person-avatar gm-via-bg-${via}" aria-hidden="true">${initial(person.name)}</span>
        <div class="gm-person-main">
          <div class="gm-person-name">${person.name || person.staff_code}${person.post ? html`<span class="gm-person-post">${person.post}</span>` : ''}</div>
          <div class="gm-person-org" title="${unitKind}">${person.org_unit_name || '—'}</div>
          ${target ? html`<div class="gm-person-target">${t('card.for')}：${target}</div>` : ''}
        </div>
        <span class="gm-via gm-via-${via}" title="${since}">${label('via', via)}</span>
      </li>`;
  }

  function axisBlock(axis, people) {
    return html`
      <div class="gm-axis gm-axis-${axis}" data-axis="${axis}">
        <div class="gm-axis-title">${t(axis === 'regional' ? 'card.axisRegional' : 'card.axisSpecialist')}</div>
        ${people.length
          ? html`<ul class="gm-people">${people.map(personItem)}</ul>`
          : html`<p class="gm-axis-empty">${t('card.nobody')}</p>`}
      </div>`;
  }

  function featureGridChips() {
    const d = state.detail;
    if (!d || d.status !== 'ok') return d && d.status === 'error' ? '—' : '…';
    const fgs = (d.data && d.data.feature_grids) || [];
    if (!fgs.length) return html`<span class="gm-muted">${t('card.noFeatureGrids')}</span>`;
    return html`<span class="gm-chips gm-chips-right gm-fg-chips">${fgs.map((f) => html`
      <span class="gm-chip" data-code="${f.code}" title="${f.code}"><span class="gm-chip-type">${label('type', f.type) || t('type.none')}</span><span class="gm-chip-name">${f.name || f.code}</span></span>`)}</span>`;
  }

  function matrixSection() {
    const d = state.detail;
    const title = html`<h3 class="gm-section-title">${t('card.matrix')}</h3>`;
    if (!d || d.status === 'loading') {
      return html`<section class="gm-matrix is-loading">${title}
        <p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p></section>`;
    }
    if (d.status === 'error') {
      return html`<section class="gm-matrix">${title}
        <p class="gm-inline-error">${t('card.loadError')}
          <button type="button" class="gm-link-btn" data-card-action="retry-detail">${t('card.retry')}</button></p></section>`;
    }
    const who = (d.data && d.data.responsible) || {};
    return html`
      <section class="gm-matrix">
        ${title}
        ${axisBlock('regional', who.regional || [])}
        ${axisBlock('specialist', who.specialist || [])}
      </section>`;
  }

  const statusColor = (key) => (STATUSES.find((s) => s.key === key) || { color: NO_DATA }).color;

  function addressItem(u) {
    const status = u.status || 'unknown';
    const phone = u.contact_phone || '';
    const contact = u.contact_name || phone;
    return html`
      <li class="gm-addr" data-unit="${u.external_id}">
        <button type="button" class="gm-addr-line gm-addr-open" data-open-unit="${u.external_id}">${u.address || u.external_id}</button>
        <div class="gm-addr-meta">
          <span class="gm-addr-status" data-status="${status}"><span class="gm-dot" style="background:${statusColor(status)}"></span>${label('status', status)}</span>
          <span class="gm-addr-customer">${u.customer_name || t('addr.noCustomer')}</span>
          ${isNum(u.revenue_month) && u.revenue_month > 0 ? html`<span class="gm-addr-revenue">${money(u.revenue_month)}</span>` : ''}
        </div>
        ${contact ? html`
          <div class="gm-addr-contact">
            <span class="gm-addr-contact-label">${t('addr.contact')}</span>
            <span class="gm-addr-contact-name">${u.contact_name || '—'}</span>
            ${phone ? html`<span class="gm-addr-phone${u.phone_masked ? ' is-masked' : ''}" title="${u.phone_masked ? t('addr.masked') : ''}">${phone}</span>` : ''}
          </div>` : ''}
      </li>`;
  }

  function addressSection(p) {
    const d = state.detail;
    const units = d ? d.units : [];
    const total = isNum(p.units) ? Math.max(p.units, units.length) : units.length;
    const loading = !d || d.unitsStatus === 'loading';
    let foot = '';
    if (d && d.unitsStatus === 'error') {
      foot = html`<p class="gm-inline-error">${t('card.loadError')}
        <button type="button" class="gm-link-btn" data-card-action="more">${t('card.retry')}</button></p>`;
    } else if (loading) {
      foot = html`<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p>`;
    } else if (!d.done) {
      foot = html`<button type="button" class="gm-btn gm-btn-more" data-card-action="more">${t('addr.more')}</button>`;
    }
    return html`
      <section class="gm-section gm-addresses">
        <h3 class="gm-section-title gm-section-row">
          <span>${t('addr.title')}</span>
          ${units.length ? html`<span class="gm-section-count">${tf('addr.shown', { n: int(units.length), total: int(total) })}</span>` : ''}
        </h3>
        ${units.length ? html`<ol class="gm-addr-list">${units.map(addressItem)}</ol>`
          : d && d.unitsStatus === 'ok' ? html`<p class="gm-axis-empty">${t('addr.empty')}</p>` : ''}
        ${foot}
      </section>`;
  }

  function overviewCard() {
    const last = state.mv.path[state.mv.path.length - 1];
    if (last && last.props) {
      return areaCard(last.props, last.level, `${levelName(last.level)} · ${state.city ? state.city.name : ''}`, 'gm-overview');
    }
    const city = state.city;
    if (state.cityRow) {
      const p = { ...state.cityRow, name: city ? city.name : state.cityRow.name };
      return html`${areaCard(p, 'city', t('panel.overview'), 'gm-overview')}<p class="gm-hint">${t('panel.hint')}</p>`;
    }
    const cells = state.cells || [];
    const sum = (key) => cells.reduce((acc, f) => acc + (Number(f.properties[key]) || 0), 0);
    const units = sum('units');
    const counts = Object.fromEntries(STATUSES.map((s) => [s.key, sum(`n_${s.key}`)]));
    const demand = counts.stock + counts.competing + counts.other_network + counts.potential;
    return html`
      <div class="gm-card gm-overview">
        <div class="gm-card-head">
          <div class="gm-eyebrow">${t('panel.overview')}</div>
          <h2 class="gm-card-title">${city ? city.name : '—'}</h2>
        </div>
        <dl class="gm-kv gm-kv-nums">
          <dt>${t('field.penetration')}</dt><dd>${pct(ratio(counts.stock + counts.competing, demand))}</dd>
          <dt>${t('field.units')}</dt><dd>${int(units)}</dd>
          <dt>${t('field.demand')}</dt><dd>${int(demand)}</dd>
        </dl>
        ${statusMix(counts, units)}
        <p class="gm-hint">${t('panel.hint')}</p>
      </div>`;
  }

  function renderPanel() {
    const body = $('gm-panel-body');
    const layer = state.selected;
    $('gm-panel-close').hidden = !layer;
    if (!state.cells) { body.replaceChildren(); return; }
    const p = layer ? layer.feature.properties : null;
    if (state.unit) {
      $('gm-panel-close').hidden = false;
      const kept = keepFieldWorkInput(body);
      body.innerHTML = unitCard().s;
      kept();
      return;
    }
    body.innerHTML = (layer ? areaCard(p, levelOf(p)) : overviewCard()).s;
  }

  /**
   * What the user has typed into the address card's forms (the edit form, visits, follow-ups)
   * survives a re-render of the panel (the visits list arrives after the card, figures refresh
   * after a save elsewhere); the returned function puts it back. A form whose submission has just
   * been answered (saved, or a 409 that shows the current record) starts from the data again.
   */
  function keepFieldWorkInput(body) {
    const s = state.unit;
    const typed = [];
    for (const id of ['gm-unit-form', 'gm-visit-form', 'gm-followup-form']) {
      const form = body.querySelector(`#${id}`);
      if (!form) continue;
      if (s && s.fwReset === id) continue;
      for (const el of form.elements) {
        if (!el.name) continue;
        const changed = el.tagName === 'SELECT'
          ? Array.from(el.options).some((o) => o.selected !== o.defaultSelected)
          : el.value !== el.defaultValue;
        if (changed) typed.push({ id, name: el.name, value: el.value, focused: document.activeElement === el });
      }
    }
    if (s) s.fwReset = null;
    return () => {
      for (const f of typed) {
        const el = body.querySelector(`#${f.id}`)?.elements.namedItem(f.name);
        if (!el) continue;
        el.value = f.value;
        if (f.focused) el.focus();
      }
    };
  }

  // ---------------------------------------------------------------- holistic views: controls, drill-down, breadcrumbs

  /** A new as-of date or period: every figure changes, so reload what is shown. */
  function reloadView() {
    if (!state.city) return;
    loadCityRow(state.city.code);
    loadFeatureGrids();
    const sel = state.selected ? String(state.selected.feature.properties.code) : null;
    loadLayer({ select: sel });
    if (state.fg) openFeatureGrid(state.fg.code);
    if (state.modal && state.modal.kind === 'compare') loadCompare();
    if (state.modal && state.modal.kind === 'rank') loadRank();
  }

  /** Draw the metric picker, the level buttons, the method and the period field as the state says. */
  function renderControls() {
    const mv = state.mv;
    const sel = $('gm-metric');
    sel.innerHTML = toHtml(METRIC_GROUPS.map((g) => html`
      <optgroup label="${t(`group.${g}`)}">${METRICS.filter((m) => m.group === g).map((m) => html`
        <option value="${m.key}"${m.key === mv.metric ? new Raw(' selected') : ''}>${t(`metric.${m.key}`)}</option>`)}</optgroup>`));
    sel.value = mv.metric;
    const cellOnly = Boolean(metricDef(mv.metric).sweep);
    document.querySelectorAll('#gm-level [data-level]').forEach((b) => {
      b.setAttribute('aria-pressed', String(b.dataset.level === mv.level));
      b.disabled = cellOnly && b.dataset.level !== 'cell';
      b.title = b.disabled ? t('sweep.cellOnly') : '';
      if (b.dataset.level === 'h3') {
        const r = String(state.layerLevel || '').startsWith('h3:') ? state.layerLevel.slice(3) : null;
        b.textContent = r ? `H3·${r}` : t('level.h3');
      }
    });
    $('gm-method').value = mv.method;
    $('gm-method').disabled = metricDef(mv.metric).fmt === 'category';
    $('gm-asof').value = mv.asOf || '';
    if (!$('gm-asof').max) $('gm-asof').max = today();
    $('gm-period').value = mv.period || (cellOnly ? today().slice(0, 7) : '');
    $('gm-period-wrap').classList.toggle('is-relevant', Boolean(metricDef(mv.metric).period));
    renderFeatureGridPicker();
    renderCompareButton();
    renderCrumbs();
  }

  function renderCrumbs() {
    const nav = $('gm-crumbs');
    const path = state.mv.path;
    nav.hidden = !state.city;
    if (!state.city) { nav.replaceChildren(); return; }
    const items = [{ name: `${state.city.name}`, sub: t('crumb.city') }, ...path.map((p) => ({ name: p.name, sub: levelName(p.level) }))];
    nav.innerHTML = toHtml(items.map((it, i) => {
      const lastOne = i === items.length - 1;
      return html`${i ? html`<span class="gm-crumb-sep" aria-hidden="true">›</span>` : ''}<button type="button" class="gm-crumb${lastOne ? ' is-current' : ''}" data-crumb="${i}"${lastOne ? new Raw(' aria-current="location"') : ''}><span class="gm-crumb-sub">${it.sub}</span>${it.name}</button>`;
    }));
  }

  const LEVEL_RANK = { city: 0, district: 1, grid: 2, cell: 3 };

  /** Show an area's children on the map (district → its grids, grid → its cells, cell → street zoom). */
  function drill(level, p, bounds, selectChild = null) {
    const id = String(p.code ?? p.id);
    if (bounds && bounds.isValid()) state.map.fitBounds(bounds, { padding: [40, 40], animate: false, maxZoom: level === 'cell' ? 17 : 16 });
    if (level === 'cell') return;
    const rank = LEVEL_RANK[level];
    state.mv.path = state.mv.path.filter((x) => LEVEL_RANK[x.level] < rank)
      .concat([{ level, id, name: p.name || id, props: p, bounds }]);
    state.mv.level = CHILD_LEVEL[level];
    closeFeatureGrid(false);
    loadLayer({ select: selectChild });
  }

  function goCrumb(i) {
    const path = state.mv.path;
    if (i >= path.length) return;
    state.mv.path = path.slice(0, i);
    const last = state.mv.path[state.mv.path.length - 1];
    state.mv.level = CHILD_LEVEL[last ? last.level : 'city'];
    if (last && last.bounds && last.bounds.isValid()) state.map.fitBounds(last.bounds, { padding: [40, 40], animate: false });
    else fitCity();
    loadLayer();
  }

  function setLevel(level) {
    if (!LEVELS.includes(level) || (sweepOn() && level !== 'cell')) return;
    state.mv.level = level;
    // a level at or above the drilled-into area shows the whole city again
    const rank = LEVEL_RANK[level] ?? 9;
    state.mv.path = state.mv.path.filter((x) => LEVEL_RANK[x.level] < rank);
    loadLayer();
  }

  /** A new metric or method: re-class and re-colour what is drawn (no request). */
  function restyle() {
    if (!state.cellLayer) return;
    state.classes = classify(state.cells || []);
    const colorOf = {};
    state.cellLayer.eachLayer((l) => {
      const color = colorFor(valueOf(l.feature.properties));
      colorOf[cellCode(l.feature)] = color;
      l.setStyle({ fillColor: color });
    });
    Object.assign(window.gmMap, {
      metric: state.mv.metric,
      method: state.mv.method,
      classes: state.classes.map(({ min, max, key, color }) => (key !== undefined ? { key, color } : { min, max, color })),
      colorOf,
    });
    renderControls();
    renderLegend();
    renderPanel();
    markReady();
  }

  /** The bounds of an area drawn on the map, by code (or null). */
  function boundsOf(code) {
    const layer = state.cellLayer && state.cellLayer.getLayers().find((l) => String(l.feature.properties.code) === String(code));
    return layer ? layer.getBounds() : null;
  }

  function onPanelClick(ev) {
    const unitBtn = ev.target.closest('[data-open-unit]');
    if (unitBtn) { openUnitCard(unitBtn.dataset.openUnit); return; }
    const unitAct = ev.target.closest('[data-unit-action]');
    if (unitAct) { closeUnitCard(); return; }
    const child = ev.target.closest('[data-child]');
    const btn = ev.target.closest('[data-card-action]');
    const card = ev.target.closest('.gm-card');
    const layer = state.selected;
    const p = layer ? layer.feature.properties : null;
    const last = state.mv.path[state.mv.path.length - 1];
    // the card's area: the selected one, or the drilled-into one / the city on the overview
    const area = p ? { level: levelOf(p), props: p, bounds: layer.getBounds() }
      : last ? { level: last.level, props: last.props, bounds: last.bounds }
        : state.cityRow && state.city ? { level: 'city', props: { ...state.cityRow, name: state.city.name }, bounds: null } : null;
    if (child && child.dataset.childLevel === 'building') { openRoster(child.dataset.child); return; }
    if (child && area) {
      const childId = child.dataset.child;
      const childLevel = child.dataset.childLevel;
      // the child is drawn: select it; otherwise drill into its parent first
      const drawn = state.cellLayer && state.cellLayer.getLayers().find((l) => String(l.feature.properties.code) === childId
        && levelOf(l.feature.properties) === childLevel);
      if (drawn) { selectCell(drawn); state.map.fitBounds(drawn.getBounds(), { padding: [60, 60], maxZoom: 16 }); return; }
      if (area.level === 'city') { state.mv.level = childLevel; state.mv.path = []; loadLayer({ select: childId }); return; }
      drill(area.level, area.props, area.bounds, childId);
      return;
    }
    if (!btn || !card) return;
    const action = btn.dataset.cardAction;
    if (action === 'more' && state.detail) { btn.disabled = true; loadCellUnits(state.detail.code); return; }
    if (action === 'retry-detail' && state.detail) { loadCellDetail(state.detail.code); renderPanel(); return; }
    if (!area) return;
    const id = String(area.props.code ?? area.props.id);
    if (action === 'drill') drill(area.level, area.props, area.bounds);
    else if (action === 'compare') toggleCompare(area.level, id, area.props.name || id);
    else if (action === 'rank') openRank(area.level, id, area.props.name || id);
  }

  // ---------------------------------------------------------------- compare

  function toggleCompare(level, id, name) {
    if (inCompare(level, id)) state.compare = state.compare.filter((a) => !(a.level === level && a.id === id));
    else if (state.compare.length < 10) state.compare.push({ level, id, name });
    renderCompareButton();
    renderPanel();
    if (state.modal && state.modal.kind === 'compare') loadCompare();
  }

  function renderCompareButton() {
    const n = state.compare.length;
    $('gm-compare-count').textContent = String(n);
    $('gm-compare-open').disabled = n === 0;
    $('gm-compare-open').classList.toggle('is-ready', n >= 2);
  }

  function openModal(kind, data = {}) {
    state.modal = { kind, status: 'loading', ...data };
    $('gm-modal').hidden = false;
    renderModal();
  }

  function closeModal() {
    state.modal = null;
    $('gm-modal').hidden = true;
    $('gm-modal-body').replaceChildren();
  }

  async function loadCompare() {
    const m = state.modal;
    if (!m || m.kind !== 'compare') return;
    if (state.compare.length < 2) { m.status = 'need'; renderModal(); return; }
    m.status = 'loading';
    renderModal();
    const q = viewParams({});
    state.compare.forEach((a) => q.append('area', `${a.level}:${a.id}`));
    try {
      const body = await api(`/api/v1/metrics/compare?${q}`);
      if (state.modal !== m) return;
      Object.assign(m, { status: 'ok', rows: body.areas || [] });
    } catch (err) {
      if (handleApiFailure(err) || state.modal !== m) return;
      Object.assign(m, { status: 'error', error: errorText(err) });
    }
    renderModal();
  }

  const COMPARE_ROWS = ['units', 'demand', 'penetration', 'fixed_line_penetration', 'broadband_penetration', 'long_distance_share',
    'line_share', 'exclusivity', 'coverage', 'revenue', 'revenue_density', 'arpa', 'opportunity', 'expiring_90d', 'churned', 'won', 'new_own_lines'];

  function compareHtml(m) {
    const chips = html`<div class="gm-compare-chips">${state.compare.map((a) => html`
      <span class="gm-chip gm-chip-x" data-cmp="${a.level}:${a.id}"><span class="gm-chip-type">${levelName(a.level)}</span>${a.name}
        <button type="button" class="gm-chip-remove" data-modal-action="remove" data-cmp="${a.level}:${a.id}" aria-label="${t('compare.remove')}" title="${t('compare.remove')}">&times;</button></span>`)}
      ${state.compare.length ? html`<button type="button" class="gm-link-btn" data-modal-action="clear">${t('compare.clear')}</button>` : ''}</div>`;
    if (m.status === 'need') return html`${chips}<p class="gm-hint">${t('compare.need')}</p>`;
    if (m.status === 'loading') return html`${chips}<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p>`;
    if (m.status === 'error') return html`${chips}<p class="gm-inline-error">${m.error}</p>`;
    const rows = m.rows;
    const table = html`
      <div class="gm-table-scroll"><table class="gm-table gm-compare-table">
        <thead><tr><th>${t('compare.metric')}</th>${rows.map((r) => html`<th class="gm-num" data-area="${r.level}:${r.code ?? r.id}">${r.name || r.code}<div class="gm-sub">${levelName(r.level)}</div></th>`)}</tr></thead>
        <tbody>${COMPARE_ROWS.map((k) => {
          const vals = rows.map((r) => r[k]).filter(isNum);
          const best = vals.length > 1 ? Math.max(...vals) : null;
          return html`<tr data-metric="${k}"><td>${t(`metric.${k}`)}</td>${rows.map((r) => html`<td class="gm-num${isNum(r[k]) && r[k] === best ? ' is-best' : ''}">${fmtMetric(k, r[k])}</td>`)}</tr>`;
        })}</tbody>
      </table></div>`;
    const charts = html`<div class="gm-compare-charts">${COMPARE_METRICS.map((k) => {
      const vals = rows.map((r) => r[k]);
      const top = Math.max(0, ...vals.filter(isNum));
      return html`<figure class="gm-chart" data-metric="${k}"><figcaption>${t(`metric.${k}`)}</figcaption>
        <ul class="gm-bars">${rows.map((r, i) => html`<li class="gm-bar-row"><span class="gm-bar-label">${r.name || r.code}</span>
          <span class="gm-bar-track"><span class="gm-bar" style="width:${isNum(r[k]) && top > 0 ? ((100 * r[k]) / top).toFixed(2) : 0}%;background:${RIVAL_COLORS[i % RIVAL_COLORS.length]}"></span></span>
          <span class="gm-bar-value">${fmtMetric(k, r[k])}</span></li>`)}</ul></figure>`;
    })}</div>`;
    return html`${chips}${table}<h3 class="gm-section-title">${t('compare.charts')}</h3>${charts}`;
  }

  // ---------------------------------------------------------------- league table

  function openRank(level, id, name) {
    const childLevel = level === 'grid' ? 'cell' : 'cell';
    const def = metricDef(state.mv.metric);
    openModal('rank', { level, id, name, childLevel, metric: def.fmt === 'category' || def.sweep ? 'penetration' : state.mv.metric, sort: null });
    loadRank();
  }

  async function loadRank() {
    const m = state.modal;
    if (!m || m.kind !== 'rank') return;
    m.status = 'loading';
    renderModal();
    const q = viewParams({ child_level: m.childLevel, metric: m.metric });
    try {
      const body = await api(`/api/v1/metrics/${encodeURIComponent(m.level)}/${encodeURIComponent(m.id)}/rank?${q}`);
      if (state.modal !== m) return;
      Object.assign(m, { status: 'ok', rows: body.areas || [] });
    } catch (err) {
      if (handleApiFailure(err) || state.modal !== m) return;
      Object.assign(m, { status: 'error', error: errorText(err) });
    }
    renderModal();
  }

  const RANK_COLS = ['units', 'penetration', 'fixed_line_penetration', 'long_distance_share', 'coverage', 'revenue', 'opportunity'];

  function rankHtml(m) {
    const numeric = METRICS.filter((x) => x.fmt !== 'category' && !x.sweep); // the league table ranks the metrics API's figures
    const levels = m.level === 'grid' ? ['cell'] : ['cell', 'grid'];
    const tools = html`
      <div class="gm-toolbar gm-rank-tools">
        <label class="gm-ctl"><span class="gm-ctl-label">${t('rank.childLevel')}</span>
          <select data-modal-input="childLevel">${levels.map((l) => html`<option value="${l}"${l === m.childLevel ? new Raw(' selected') : ''}>${levelName(l)}</option>`)}</select></label>
        <label class="gm-ctl"><span class="gm-ctl-label">${t('ctl.metric')}</span>
          <select data-modal-input="metric">${numeric.map((x) => html`<option value="${x.key}"${x.key === m.metric ? new Raw(' selected') : ''}>${t(`metric.${x.key}`)}</option>`)}</select></label>
      </div>`;
    if (m.status === 'loading') return html`${tools}<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p>`;
    if (m.status === 'error') return html`${tools}<p class="gm-inline-error">${m.error}</p>`;
    if (!m.rows.length) return html`${tools}<p class="gm-hint">${t('rank.empty')}</p>`;
    const cols = [m.metric, ...RANK_COLS.filter((k) => k !== m.metric)];
    const rows = m.rows.slice();
    if (m.sort) {
      const { key, dir } = m.sort;
      rows.sort((a, b) => {
        const x = key === 'name' ? String(a.name || a.code) : a[key];
        const y = key === 'name' ? String(b.name || b.code) : b[key];
        if (x === y) return (a.rank || 0) - (b.rank || 0);
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        const c = typeof x === 'string' ? x.localeCompare(y) : x - y;
        return dir === 'asc' ? c : -c;
      });
    }
    const arrow = (key) => (m.sort && m.sort.key === key ? (m.sort.dir === 'asc' ? ' ▲' : ' ▼') : '');
    const th = (key, text, cls = 'gm-num') => html`<th class="${cls} gm-sortable" data-sort="${key}" aria-sort="${m.sort && m.sort.key === key ? (m.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}">${text}${arrow(key)}</th>`;
    return html`${tools}
      <div class="gm-table-scroll gm-rank-scroll"><table class="gm-table gm-rank-table">
        <thead><tr>${th('rank', t('rank.rank'))}${th('name', t('rank.name'), '')}${cols.map((k) => th(k, t(`metric.${k}`)))}${th('percentile', t('rank.percentile'))}</tr></thead>
        <tbody>${rows.map((r) => html`<tr data-code="${r.code}" data-level="${r.level}">
          <td class="gm-num"><span class="gm-rank-badge${r.rank <= 3 ? ` is-top${r.rank}` : ''}">${int(r.rank)}</span></td>
          <td><span class="gm-named">${r.name || r.code}<span class="gm-mono gm-sub">${r.code}</span></span></td>
          ${cols.map((k, i) => html`<td class="gm-num${i === 0 ? ' is-shown' : ''}">${fmtMetric(k, r[k])}</td>`)}
          <td class="gm-num gm-muted">${isNum(r.percentile) ? pct(r.percentile) : '—'}</td></tr>`)}</tbody>
      </table></div>`;
  }

  function renderModal() {
    const m = state.modal;
    if (!m) return;
    $('gm-modal-close').title = t('modal.close');
    $('gm-modal-close').setAttribute('aria-label', t('modal.close'));
    $('gm-modal').dataset.kind = m.kind;
    if (m.kind === 'compare') {
      $('gm-modal-title').textContent = t('compare.title');
      $('gm-modal-body').innerHTML = compareHtml(m).s;
    } else if (m.kind === 'rank') {
      $('gm-modal-title').textContent = tf('rank.title', { name: m.name, level: levelName(m.childLevel) });
      $('gm-modal-body').innerHTML = rankHtml(m).s;
    } else if (m.kind === 'roster') {
      const b = m.data && m.data.building;
      $('gm-modal-title').textContent = b ? `${t('roster.title')} · ${b.name || b.code}` : t('roster.title');
      $('gm-modal-body').innerHTML = rosterHtml(m).s;
    }
  }

  function onModalClick(ev) {
    const m = state.modal;
    if (!m) return;
    if (ev.target === $('gm-modal')) { closeModal(); return; }
    const sort = ev.target.closest('[data-sort]');
    if (sort && m.kind === 'rank') {
      const key = sort.dataset.sort;
      const dir = m.sort && m.sort.key === key && m.sort.dir === 'desc' ? 'asc' : (key === 'name' || key === 'rank') && !(m.sort && m.sort.key === key) ? 'asc' : 'desc';
      m.sort = { key, dir };
      renderModal();
      return;
    }
    const row = ev.target.closest('.gm-rank-table tbody tr');
    if (row && m.kind === 'rank') {
      const { code, level } = row.dataset;
      closeModal();
      if (state.mv.level !== level || state.mv.path.length) { state.mv.level = level; state.mv.path = []; loadLayer({ select: code }); return; }
      const b = boundsOf(code);
      const layer = state.cellLayer.getLayers().find((l) => String(l.feature.properties.code) === code);
      if (layer) { selectCell(layer); if (b) state.map.fitBounds(b, { padding: [60, 60], maxZoom: 16 }); }
      return;
    }
    const room = ev.target.closest('[data-room]');
    if (room && m.kind === 'roster') { closeModal(); openUnitCard(room.dataset.room); return; }
    const act = ev.target.closest('[data-modal-action]');
    if (!act) return;
    if (act.dataset.modalAction === 'clear') { state.compare = []; renderCompareButton(); renderPanel(); loadCompare(); }
    if (act.dataset.modalAction === 'remove') {
      const [level, ...rest] = act.dataset.cmp.split(':');
      toggleCompare(level, rest.join(':'), '');
    }
  }

  function onModalInput(ev) {
    const m = state.modal;
    const el = ev.target.closest('[data-modal-input]');
    if (!m || !el || m.kind !== 'rank') return;
    m[el.dataset.modalInput] = el.value;
    m.sort = null;
    loadRank();
  }

  // ---------------------------------------------------------------- building roster

  function openRoster(code) {
    openModal('roster', { code, data: null });
    loadRoster();
  }

  async function loadRoster() {
    const m = state.modal;
    if (!m || m.kind !== 'roster') return;
    try {
      const data = await api(`/api/v1/buildings/${encodeURIComponent(m.code)}/roster`);
      if (state.modal !== m) return;
      Object.assign(m, { status: 'ok', data });
    } catch (err) {
      if (handleApiFailure(err) || state.modal !== m) return;
      Object.assign(m, { status: 'error', error: errorText(err) });
    }
    renderModal();
  }

  /** Floors (top first) × rooms, each room a tile coloured by its status that opens its card. */
  function rosterHtml(m) {
    if (m.status === 'loading') return html`<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p>`;
    if (m.status === 'error') return html`<p class="gm-inline-error">${m.error}</p>`;
    const d = m.data;
    const b = d.building || {};
    const rooms = (d.floors || []).flatMap((f) => f.rooms || []);
    const counts = Object.fromEntries(STATUSES.map((x) => [x.key, rooms.filter((r) => (r.status || 'unknown') === x.key).length]));
    const typeName = b.type ? label('btype', b.type) : '';
    return html`
      <div class="gm-roster-head">
        <dl class="gm-kv gm-roster-kv">
          <dt>${t('search.kind.cell')}</dt><dd>${b.cell_name || b.cell || '—'}</dd>
          <dt>${t('roster.floors')}</dt><dd>${int(b.floors)}</dd>
          <dt>${t('field.units')}</dt><dd data-key="units">${int(d.units)}</dd>
          ${typeName ? html`<dt>${t('field.type')}</dt><dd>${typeName}</dd>` : ''}
        </dl>
        <div class="gm-legend-dots-items gm-roster-legend">${STATUSES.map((x) => html`<span class="gm-legend-dot" data-status="${x.key}"><span class="gm-dot" style="background:${x.color}"></span>${t(`status.${x.key}`)} <b>${int(counts[x.key])}</b></span>`)}</div>
      </div>
      <div class="gm-roster">${(d.floors || []).map((f) => html`
        <div class="gm-roster-floor" data-floor="${f.floor ?? ''}">
          <div class="gm-roster-flabel">${f.label || (isNum(f.floor) ? tf('unit.floor', { f: f.floor }) : '—')}</div>
          <div class="gm-roster-rooms">${(f.rooms || []).length ? f.rooms.map((r) => {
            const st = r.status || 'unknown';
            return html`<button type="button" class="gm-room gm-room-${st}" data-room="${r.external_id}" data-status="${st}" style="--room:${statusColor(st)}" title="${r.address} · ${t(`status.${st}`)}">
              <span class="gm-room-no">${r.room || f.label || r.external_id}</span>
              <span class="gm-room-name">${r.customer_name || t('addr.noCustomer')}</span>
            </button>`;
          }) : html`<span class="gm-muted gm-room-empty">—</span>`}</div>
        </div>`)}</div>`;
  }

  // ---------------------------------------------------------------- characteristic grids

  async function loadFeatureGrids() {
    try {
      const body = await api('/api/v1/feature-grids');
      state.featureGrids = (body.feature_grids || []).slice().sort((a, b) => String(a.code).localeCompare(String(b.code)));
    } catch (err) {
      if (handleApiFailure(err)) return;
      state.featureGrids = [];
    }
    renderFeatureGridPicker();
  }

  function renderFeatureGridPicker() {
    const sel = $('gm-fg');
    const list = state.featureGrids || [];
    const current = state.fg ? state.fg.code : '';
    sel.innerHTML = toHtml([html`<option value="">${t('fg.none')}</option>`, ...list.map((f) => html`
      <option value="${f.code}"${f.code === current ? new Raw(' selected') : ''}>${f.name || f.code}</option>`)]);
    sel.value = current;
    sel.disabled = !list.length;
  }

  /** Highlight a characteristic grid's member cells (across districts) and show its own totals. */
  async function openFeatureGrid(code) {
    if (!code) { closeFeatureGrid(true); return; }
    const row = (state.featureGrids || []).find((f) => f.code === code);
    state.fg = { code, row, features: [], codes: [], status: 'loading' };
    renderFeatureGridPicker();
    let fc;
    let own;
    try {
      // its member cells, and its own totals (counted over its members and its industries' customers)
      [fc, own] = await Promise.all([
        api(`/api/v1/metrics?${viewParams({ level: 'cell', feature_grid: code, format: 'geojson' })}`),
        api(`/api/v1/metrics?${viewParams({ level: 'feature_grid', feature_grid: code })}`),
      ]);
    } catch (err) {
      if (handleApiFailure(err) || !state.fg || state.fg.code !== code) return;
      state.fg.status = 'error';
      return;
    }
    if (!state.fg || state.fg.code !== code) return;
    const totals = ((own && own.areas) || []).find((a) => a.code === code) || {};
    state.fg = {
      ...state.fg, row: { ...(row || {}), ...totals }, status: 'ok', features: fc.features || [], codes: (fc.features || []).map(cellCode),
    };
    // its cells may lie in another city than the one shown
    const bounds = L.geoJSON(fc).getBounds();
    if (bounds.isValid() && state.city && Array.isArray(state.city.bbox)) {
      const [minx, miny, maxx, maxy] = state.city.bbox;
      const c = bounds.getCenter();
      if (!(c.lng >= minx && c.lng <= maxx && c.lat >= miny && c.lat <= maxy)) {
        const other = state.cities.find((x) => Array.isArray(x.bbox) && c.lng >= x.bbox[0] && c.lng <= x.bbox[2] && c.lat >= x.bbox[1] && c.lat <= x.bbox[3]);
        if (other) { await loadCity(other.code); if (!state.fg || state.fg.code !== code) return; }
      }
    }
    applyFeatureGrid(true);
  }

  function closeFeatureGrid(render = true) {
    if (!state.fg) return;
    state.fg = null;
    state.fgOutline = outline(state.fgOutline, null);
    if (window.gmMap) window.gmMap.fgCells = [];
    if (render) { renderFeatureGridPicker(); renderFgBox(); }
  }

  const FG_STYLES = [
    { weight: 6, color: '#ffffff', opacity: 0.9, fill: false },
    { weight: 3, color: '#7048e8', opacity: 1, fill: false, dashArray: '6 4' },
  ];

  function applyFeatureGrid(fit) {
    const fg = state.fg;
    if (!fg || fg.status !== 'ok' || !state.map) { renderFgBox(); return; }
    state.fgOutline = outline(state.fgOutline, fg.features.length ? fg.features : null, FG_STYLES, 'gm-own');
    if (window.gmMap) window.gmMap.fgCells = fg.codes.slice();
    if (fit && fg.features.length) {
      state.map.fitBounds(L.geoJSON(fg.features).getBounds(), { paddingTopLeft: [340, 60], paddingBottomRight: [40, 40], maxZoom: 15 });
    }
    renderFgBox();
  }

  /** The characteristic grid's box on the map: its totals and its members by district. */
  function renderFgBox() {
    const box = $('gm-fgbox');
    const fg = state.fg;
    box.hidden = !fg || fg.status !== 'ok';
    if (box.hidden) { box.replaceChildren(); return; }
    const p = fg.row || {};
    const byDistrict = {};
    fg.features.forEach((f) => {
      const d = f.properties.district_name || f.properties.district_code || '—';
      (byDistrict[d] = byDistrict[d] || []).push(f.properties);
    });
    const typeName = p.type ? label('type', p.type) : '';
    box.innerHTML = html`
      <div class="gm-area-head">
        <span class="gm-fg-icon" aria-hidden="true"></span>
        <h2 class="gm-area-title">${p.name || fg.code}</h2>
        <button type="button" class="gm-area-close" data-fg-action="close" aria-label="${t('fg.clear')}" title="${t('fg.clear')}">&times;</button>
      </div>
      <div class="gm-area-role">${t('fg.title')} · ${fg.code}${typeName ? ` · ${typeName}` : ''}</div>
      <div class="gm-kpis gm-kpis-compact">
        <div class="gm-kpi"><span class="gm-kpi-label">${t('metric.penetration')}</span><span class="gm-kpi-value">${pct(p.penetration)}</span></div>
        <div class="gm-kpi"><span class="gm-kpi-label">${t('metric.revenue')}</span><span class="gm-kpi-value">${money(p.revenue)}</span></div>
      </div>
      <dl class="gm-kv gm-area-kv">
        <dt>${t('field.units')}</dt><dd class="gm-area-num" data-key="units">${int(p.units)}</dd>
        <dt>${t('metric.coverage')}</dt><dd>${pct(p.coverage)}</dd>
        <dt>${t('metric.opportunity')}</dt><dd>${int(p.opportunity)}</dd>
        <dt>${t('fg.members')}</dt><dd class="gm-area-num" data-key="cells">${int(fg.features.length)}</dd>
        <dt>${t('fg.districts')}</dt><dd data-key="districts">${Object.keys(byDistrict).length}</dd>
      </dl>
      <ul class="gm-fg-districts">${Object.entries(byDistrict).map(([d, cells]) => html`
        <li><span class="gm-fg-dname">${d}</span><span class="gm-muted">${cells.map((c) => c.name || c.code).join('、')}</span></li>`)}</ul>
      <div class="gm-area-legend"><span class="gm-area-swatch gm-fg-swatch"></span>${t('fg.legend')}</div>
      <div class="gm-card-actions">
        <button type="button" class="gm-btn gm-btn-sm" data-fg-action="compare">${t(inCompare('feature_grid', fg.code) ? 'card.compareIn' : 'card.compareAdd')}</button>
        <button type="button" class="gm-btn gm-btn-sm" data-fg-action="rank">${t('card.rank')}</button>
      </div>`.s;
  }

  function onFgBoxClick(ev) {
    const btn = ev.target.closest('[data-fg-action]');
    if (!btn || !state.fg) return;
    const fg = state.fg;
    const name = (fg.row && fg.row.name) || fg.code;
    if (btn.dataset.fgAction === 'close') closeFeatureGrid(true);
    else if (btn.dataset.fgAction === 'compare') { toggleCompare('feature_grid', fg.code, name); renderFgBox(); }
    else if (btn.dataset.fgAction === 'rank') openRank('feature_grid', fg.code, name);
  }

  // ---------------------------------------------------------------- search

  function onSearchInput() {
    clearTimeout(state.searchTimer);
    const q = $('gm-search').value.trim();
    if (q.length < 2) { state.search = null; renderSearch(); return; }
    state.searchTimer = setTimeout(() => runSearch(q), 250);
  }

  async function runSearch(q) {
    state.search = { q, status: 'loading', results: [] };
    renderSearch();
    try {
      const body = await api(`/api/v1/search?${new URLSearchParams({ q, limit: '12' })}`);
      if (!state.search || state.search.q !== q) return;
      state.search = { q, status: 'ok', results: body.results || [] };
    } catch (err) {
      if (handleApiFailure(err) || !state.search || state.search.q !== q) return;
      state.search = { q, status: 'error', results: [] };
    }
    renderSearch();
  }

  function renderSearch() {
    const list = $('gm-search-results');
    const s = state.search;
    list.hidden = !s;
    if (!s) { list.replaceChildren(); return; }
    if (s.status === 'loading') { list.innerHTML = html`<li class="gm-search-note"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</li>`.s; return; }
    if (s.status === 'error') { list.innerHTML = html`<li class="gm-search-note gm-inline-error">${t('search.error')}</li>`.s; return; }
    if (!s.results.length) { list.innerHTML = html`<li class="gm-search-note">${t('search.none')}</li>`.s; return; }
    list.innerHTML = toHtml(s.results.map((r, i) => html`
      <li role="option" class="gm-search-item" data-result="${i}" tabindex="-1">
        <span class="gm-search-kind gm-search-kind-${r.kind}">${t(`search.kind.${r.kind}`)}</span>
        <span class="gm-search-main"><span class="gm-search-label">${r.label}</span><span class="gm-search-sub">${r.sub || ''}</span></span>
        <span class="gm-mono gm-sub">${r.code}</span>
      </li>`));
  }

  /** Fly to a search result: its city, its cell selected, zoomed to the point. */
  async function goToResult(r) {
    state.search = null;
    renderSearch();
    $('gm-search').blur();
    if (r.city_code && (!state.city || state.city.code !== r.city_code) && state.cities.some((c) => c.code === r.city_code)) {
      await loadCity(r.city_code);
    }
    if (r.cell_code) {
      if (state.mv.level !== 'cell' || state.mv.path.length) {
        state.mv.level = 'cell';
        state.mv.path = [];
        await loadLayer({ select: r.cell_code });
      } else {
        const layer = state.cellLayer.getLayers().find((l) => String(l.feature.properties.code) === r.cell_code);
        if (layer) selectCell(layer);
      }
    }
    if (isNum(r.lon) && isNum(r.lat)) state.map.flyTo([r.lat, r.lon], r.kind === 'cell' ? 15 : 17, { duration: 0.6 });
    else if (r.cell_code && boundsOf(r.cell_code)) state.map.flyToBounds(boundsOf(r.cell_code), { maxZoom: 16, duration: 0.6 });
    state.lastResult = r;
    if (r.kind === 'unit' && r.code) openUnitCard(r.code);
    if (r.kind === 'building' && r.code) openRoster(r.code);
  }

  function onSearchPick(ev) {
    const li = ev.target.closest('[data-result]');
    if (!li || !state.search) return;
    ev.preventDefault();
    const r = state.search.results[Number(li.dataset.result)];
    if (r) goToResult(r);
  }

  function onSearchKey(ev) {
    if (ev.key === 'Escape') { state.search = null; renderSearch(); return; }
    if (ev.key === 'Enter' && state.search && state.search.status === 'ok' && state.search.results.length) {
      ev.preventDefault();
      goToResult(state.search.results[0]);
    }
  }

  // ---------------------------------------------------------------- address card and edit form

  const EDIT_ROLES = ['admin', 'city_manager', 'regional_head', 'specialist_lead', 'grid_manager', 'account_manager'];
  const UNIT_NUMS = ['fixed_lines_own', 'fixed_lines_rival', 'broadband_own', 'broadband_rival', 'ld_minutes_own', 'ld_minutes_rival', 'revenue_month'];
  const UNIT_TEXTS = ['rival_operator', 'contract_end', 'contact_name', 'contact_phone'];

  /** The street-zoom layer of address units (static/units_layer.js), coloured by status. */
  function addUnitsLayer() {
    if (!window.gmUnitsLayer || !state.map || state.unitsLayer) return;
    state.unitsLayer = window.gmUnitsLayer(state.map, {
      statusColors: Object.fromEntries(STATUSES.map((s) => [s.key, s.color])),
      minZoom: 15,
      onClick: (p) => openUnitCard(p.external_id),
      onAggregateClick: (p, ev) => state.map.setView(ev.latlng, Math.min(state.map.getZoom() + 2, 18)),
      tooltip: unitTipHtml,
    });
  }

  /** The hover tooltip of an address dot (tile properties) or of an aggregate of the lower zooms. */
  function unitTipHtml(p, aggregate) {
    const dot = (key) => html`<span class="gm-dot" style="background:${(STATUSES.find((s) => s.key === key) || STATUSES[STATUSES.length - 1]).color}"></span>`;
    if (aggregate) {
      const rows = STATUSES.filter((s) => Number(p[`n_${s.key}`]) > 0).map((s) => html`
        <div class="gm-tip-row" data-status="${s.key}"><span>${dot(s.key)}${t(`status.${s.key}`)}</span><b>${int(p[`n_${s.key}`])}</b></div>`);
      return html`
        <div class="gm-tip-name">${p.cell ? p.cell : `H3 ${p.h3}`}</div>
        <div class="gm-tip-level">${p.cell ? t('level.cell') : t('level.h3')}</div>
        <div class="gm-tip-row gm-tip-main"><span>${t('field.units')}</span><b>${int(p.units)}</b></div>
        ${rows}
        <div class="gm-tip-hint">${t('tip.zoomIn')}</div>`.s;
    }
    const status = p.status || 'unknown';
    const floor = p.floor === undefined || p.floor === null ? null : tf('unit.floor', { f: p.floor });
    const place = [p.building, floor, p.room].filter((x) => x !== undefined && x !== null && x !== '').join(' · ');
    return html`
      <div class="gm-tip-name">${p.room || p.external_id}</div>
      <div class="gm-tip-level">${t('tip.unit')} · ${p.external_id}</div>
      <div class="gm-tip-row gm-tip-main" data-status="${status}"><span>${t('unit.f.status')}</span><b>${dot(status)}${t(`status.${status}`)}</b></div>
      ${place ? html`<div class="gm-tip-row"><span>${t('level.building')}</span><b>${place}</b></div>` : ''}
      <div class="gm-tip-hint">${t('tip.openCard')}</div>`.s;
  }

  async function openUnitCard(externalId) {
    state.unit = { id: externalId, status: 'loading', data: null, error: null, conflict: null, saved: false };
    $('gm-panel').classList.add('is-open');
    $('gm-panel').scrollTop = 0;
    renderPanel();
    try {
      const data = await api(`/api/v1/units/${encodeURIComponent(externalId)}`);
      if (!state.unit || state.unit.id !== externalId) return;
      Object.assign(state.unit, { status: 'ok', data });
      markUnit(data);
      loadVisits(externalId);
    } catch (err) {
      if (handleApiFailure(err) || !state.unit || state.unit.id !== externalId) return;
      Object.assign(state.unit, { status: 'error', error: errorText(err) });
    }
    renderPanel();
  }

  function closeUnitCard() {
    state.unit = null;
    markUnit(null);
    renderPanel();
  }

  /** A ring around the address whose card is open. */
  function markUnit(u) {
    if (state.unitMarker) { state.unitMarker.remove(); state.unitMarker = null; }
    if (!u || !isNum(u.lat) || !isNum(u.lon) || !state.map) return;
    state.unitMarker = L.layerGroup([
      L.circleMarker([u.lat, u.lon], { radius: 11, weight: 5, color: '#ffffff', opacity: 0.95, fill: false, interactive: false, pane: 'gm-highlight', renderer: state.highlightRenderer }),
      L.circleMarker([u.lat, u.lon], { radius: 11, weight: 2.5, color: '#0b2545', fill: false, interactive: false, pane: 'gm-highlight', renderer: state.highlightRenderer }),
    ]).addTo(state.map);
  }

  const unitValue = (u, k) => (u[k] === null || u[k] === undefined ? '' : String(u[k]));

  function unitCard() {
    const s = state.unit;
    const back = html`<button type="button" class="gm-link-btn gm-back" data-unit-action="back">‹ ${t('unit.back')}</button>`;
    if (s.status === 'loading') return html`<div class="gm-card gm-unit-card">${back}<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p></div>`;
    if (s.status === 'error') return html`<div class="gm-card gm-unit-card">${back}<p class="gm-inline-error">${s.error}</p></div>`;
    const u = s.data;
    const canEdit = state.user && EDIT_ROLES.includes(state.user.role);
    const status = u.status || 'unknown';
    const c = s.conflict;
    const conflict = c ? html`
      <div class="gm-conflict" role="alert">
        <div class="gm-conflict-title">${tf('unit.conflict', { who: c.changed_by_user || c.changed_by || '?', at: timestamp(c.changed_at) })}</div>
        <ul class="gm-conflict-list">${Object.keys(c.diff).map((k) => html`<li data-field="${k}"><span>${t(`unit.f.${k}`)}</span><b>${c.diff[k] === '' ? '—' : (k === 'status' ? t(`status.${c.diff[k]}`) : c.diff[k])}</b></li>`)}</ul>
        <div class="gm-conflict-note">${t('unit.conflictNote')}</div>
      </div>` : '';
    const field = (k, type = 'number', extra = '') => html`
      <label class="gm-field gm-field-sm"><span>${t(`unit.f.${k}`)}</span>
        <input name="${k}" type="${type}" value="${unitValue(u, k)}"${new Raw(extra)}${canEdit ? '' : new Raw(' disabled')}></label>`;
    const form = html`
      <form class="gm-unit-form" id="gm-unit-form" novalidate>
        <label class="gm-field gm-field-sm gm-field-wide"><span>${t('unit.f.status')}</span>
          <select name="status"${canEdit ? '' : new Raw(' disabled')}>${STATUSES.map((x) => html`<option value="${x.key}"${x.key === status ? new Raw(' selected') : ''}>${t(`status.${x.key}`)}</option>`)}</select></label>
        <div class="gm-form-grid">
          ${field('fixed_lines_own', 'number', ' min="0" step="1"')}${field('fixed_lines_rival', 'number', ' min="0" step="1"')}
          ${field('broadband_own', 'number', ' min="0" step="1"')}${field('broadband_rival', 'number', ' min="0" step="1"')}
          ${field('ld_minutes_own', 'number', ' min="0" step="any"')}${field('ld_minutes_rival', 'number', ' min="0" step="any"')}
          ${field('revenue_month', 'number', ' min="0" step="0.01"')}${field('contract_end', 'date')}
          ${field('rival_operator', 'text', ' maxlength="64"')}${field('contact_name', 'text', ' maxlength="64"')}
        </div>
        ${u.phone_masked ? html`<div class="gm-field gm-field-sm"><span>${t('unit.f.contact_phone')}</span><span class="gm-addr-phone is-masked" title="${t('addr.masked')}">${u.contact_phone || '—'}</span></div>`
          : field('contact_phone', 'tel', ' maxlength="32"')}
        <label class="gm-field gm-field-sm gm-field-wide"><span>${t('unit.f.note')}</span><input name="note" type="text" maxlength="500"${canEdit ? '' : new Raw(' disabled')}></label>
        ${s.formError ? html`<p class="gm-inline-error" data-field="${s.formError.field || ''}">${s.formError.text}</p>` : ''}
        ${s.saved ? html`<p class="gm-ok-line">${tf('unit.saved', { v: u.version })}</p>` : ''}
        ${canEdit ? html`<button type="submit" class="gm-btn gm-btn-primary" id="gm-unit-save"${s.saving ? new Raw(' disabled') : ''}>${t(s.saving ? 'admin.busy' : 'unit.save')}</button>`
          : html`<p class="gm-hint">${t('unit.readOnly')}</p>`}
      </form>`;
    const shown = (k) => {
      if (k === 'revenue_month') return money(u[k]);
      if (k === 'contact_phone') return u.contact_phone ? html`<span class="gm-addr-phone${u.phone_masked ? ' is-masked' : ''}" title="${u.phone_masked ? t('addr.masked') : ''}">${u.contact_phone}</span>` : '—';
      return u[k] === null || u[k] === undefined || u[k] === '' ? '—' : isNum(u[k]) ? int(u[k]) : u[k];
    };
    const readOnly = html`
      <h3 class="gm-section-title">${t('unit.market')}</h3>
      <dl class="gm-kv gm-kv-nums gm-unit-values">${[...UNIT_NUMS, ...UNIT_TEXTS].map((k) => html`<dt>${t(`unit.f.${k}`)}</dt><dd data-field="${k}">${shown(k)}</dd>`)}</dl>
      <p class="gm-hint gm-readonly-note">${t('unit.readOnly')}</p>`;
    return html`
      <div class="gm-card gm-unit-card" data-unit="${u.external_id}" data-version="${u.version}">
        ${back}
        <div class="gm-card-head">
          <div class="gm-eyebrow">${t('unit.title')}</div>
          <h2 class="gm-card-title">${u.address || u.external_id}</h2>
          <div class="gm-card-code">${u.external_id} · v${u.version}</div>
        </div>
        <div class="gm-unit-status"><span class="gm-dot" style="background:${statusColor(status)}"></span>${label('status', status)}</div>
        <dl class="gm-kv">
          <dt>${t('search.kind.customer')}</dt><dd>${u.customer_name || t('addr.noCustomer')}${u.customer_code ? html`<span class="gm-mono gm-sub"> ${u.customer_code}</span>` : ''}</dd>
          <dt>${t('search.kind.building')}</dt><dd>${u.building_name || '—'}${isNum(u.floor) ? ` · ${tf('unit.floor', { f: u.floor })}` : ''}${u.room ? ` · ${u.room}` : ''}</dd>
          <dt>${t('search.kind.cell')}</dt><dd class="gm-mono">${u.cell_code || '—'}</dd>
          <dt>${t('unit.changedAt')}</dt><dd>${timestamp(u.changed_at)}</dd>
        </dl>
        ${conflict}
        ${canEdit ? html`<h3 class="gm-section-title">${t('unit.edit')}</h3>${form}` : readOnly}
        ${unitFieldWork(u, canEdit)}
      </div>`;
  }

  /** The fields of the form that differ from the record shown, as the API wants them. */
  function unitChanges(form, u) {
    const out = {};
    const data = new FormData(form);
    if (data.get('status') !== null && data.get('status') !== (u.status || 'unknown')) out.status = data.get('status');
    UNIT_NUMS.forEach((k) => {
      const raw = data.get(k);
      if (raw === null) return;
      const v = raw === '' ? null : Number(raw);
      const old = u[k] === undefined ? null : u[k];
      if (v !== old) out[k] = v;
    });
    UNIT_TEXTS.forEach((k) => {
      const raw = data.get(k);
      if (raw === null) return;
      const v = raw.trim() === '' ? null : raw.trim();
      if (v !== (u[k] === undefined ? null : u[k])) out[k] = v;
    });
    const note = (data.get('note') || '').trim();
    if (note) out.note = note;
    return out;
  }

  async function onUnitSubmit(ev) {
    if (ev.target.id === 'gm-visit-form' || ev.target.id === 'gm-followup-form') { onFieldWorkSubmit(ev); return; }
    if (ev.target.id !== 'gm-unit-form') return;
    ev.preventDefault();
    const s = state.unit;
    if (!s || !s.data || s.saving) return;
    const body = unitChanges(ev.target, s.data);
    if (!Object.keys(body).length) { s.formError = { text: t('unit.nothing'), field: null }; renderPanel(); return; }
    Object.assign(s, { saving: true, formError: null, saved: false });
    renderPanel();
    try {
      const data = await api(`/api/v1/units/${encodeURIComponent(s.id)}`, {
        method: 'PATCH', body, headers: { 'If-Match': `"${s.data.version}"` },
      });
      if (state.unit !== s) return;
      Object.assign(s, { saving: false, data, saved: true, conflict: null, fwReset: 'gm-unit-form' });
      afterUnitEdit(data);
    } catch (err) {
      if (handleApiFailure(err) || state.unit !== s) return;
      s.saving = false;
      if (err.status === 409 && err.data && err.data.current) {
        s.fwReset = 'gm-unit-form'; // the form shows the current record; a 422 keeps what was typed
        const cur = err.data.current;
        const diff = {};
        ['status', ...UNIT_NUMS, ...UNIT_TEXTS].forEach((k) => { if (unitValue(cur, k) !== unitValue(s.data, k)) diff[k] = unitValue(cur, k); });
        s.conflict = { changed_by: err.data.changed_by, changed_by_user: err.data.changed_by_user, changed_at: err.data.changed_at, diff };
        s.data = cur;
      } else {
        s.formError = { text: errorText(err), field: err.field };
      }
    }
    renderPanel();
  }

  /** After an edit: the dots, the cell's colour and figures, the address list are redrawn. */
  function afterUnitEdit(u) {
    if (state.unitsLayer) state.unitsLayer.refresh();
    const selected = state.selected ? String(state.selected.feature.properties.code) : null;
    if (state.city) loadCityRow(state.city.code);
    loadLayer({ select: selected || u.cell_code, keepUnit: true }).then(() => {
      if (state.detail) { state.detail.units = []; loadCellUnits(state.detail.code); }
    });
  }

  // ---------------------------------------------------------------- field work: sweeps, visits, follow-ups

  const OUTCOMES = ['met', 'not_met', 'refused', 'interested', 'signed', 'vacant'];
  const FOLLOW_STATUSES = ['other_network', 'potential'];

  /** A cell's sweep coverage this month and its follow-ups (field-work APIs). */
  async function loadFieldWork(code) {
    state.fieldWork = { code, status: 'loading' };
    try {
      const enc = encodeURIComponent(code);
      // the sweep of the month picked in the sweep view, of this month otherwise
      const range = sweepOn() ? sweepRange() : null;
      const period = range ? `&from=${range.from}&to=${range.to}` : '';
      const [sweep, follow] = await Promise.all([
        api(`/api/v1/cells/${enc}/sweep?limit=1${period}`),
        api(`/api/v1/cells/${enc}/follow-ups`),
      ]);
      if (!state.fieldWork || state.fieldWork.code !== code) return;
      state.fieldWork = { code, status: 'ok', sweep, follow };
    } catch (err) {
      if (handleApiFailure(err) || !state.fieldWork || state.fieldWork.code !== code) return;
      state.fieldWork = { code, status: 'error' };
    }
    renderPanel();
  }

  function fieldWorkSection() {
    const f = state.fieldWork;
    const code = state.selected ? String(state.selected.feature.properties.code) : null;
    if (!f || f.code !== code) return '';
    const title = html`<h3 class="gm-section-title">${t('fw.title')}</h3>`;
    if (f.status === 'loading') return html`<section class="gm-section gm-fieldwork">${title}<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p></section>`;
    if (f.status === 'error') return html`<section class="gm-section gm-fieldwork">${title}<p class="gm-inline-error">${t('card.loadError')}</p></section>`;
    const sw = f.sweep;
    const fo = f.follow;
    const open = (fo.items || []).filter((x) => !x.closed_at).slice(0, 5);
    return html`
      <section class="gm-section gm-fieldwork">
        ${title}
        <div class="gm-fw-kpis">
          <div class="gm-fw-kpi" data-key="sweep"><span class="gm-kpi-label">${tf(sw.from === `${today().slice(0, 7)}-01` ? 'fw.sweep' : 'fw.sweepPeriod', { from: sw.from, to: sw.to })}</span>
            <span class="gm-fw-value">${pct(sw.coverage)}</span><span class="gm-muted">${int(sw.visited)} / ${int(sw.units)}</span>
            <span class="gm-bar-track"><span class="gm-bar" style="width:${isNum(sw.coverage) ? (100 * sw.coverage).toFixed(1) : 0}%;background:#2b8a3e"></span></span></div>
          <div class="gm-fw-kpi" data-key="stale"><span class="gm-kpi-label">${tf('fw.stale', { n: sw.stale_days })}</span>
            <span class="gm-fw-value">${int(sw.not_visited_for_n_days && sw.not_visited_for_n_days.total)}</span></div>
        </div>
        <dl class="gm-kv gm-kv-nums gm-fw-counts">
          <dt>${t('fw.open')}</dt><dd data-key="open">${int(fo.open)}</dd>
          <dt>${t('fw.overdue')}</dt><dd data-key="overdue" class="${fo.overdue ? 'gm-warn' : ''}">${int(fo.overdue)}</dd>
          <dt>${t('fw.won')}</dt><dd data-key="won">${int(fo.closed_won)}</dd>
          <dt>${t('fw.lost')}</dt><dd data-key="lost">${int(fo.lost)}</dd>
        </dl>
        ${open.length ? html`<ul class="gm-fw-list">${open.map((x) => html`
          <li class="${x.overdue ? 'is-overdue' : ''}"><button type="button" class="gm-link-btn gm-fw-item" data-open-unit="${x.external_id}">${x.address}</button>
            <span class="gm-muted">${x.due_date} · ${x.next_step} · ${x.owner}</span></li>`)}</ul>` : ''}
      </section>`;
  }

  async function loadVisits(externalId) {
    const s = state.unit;
    if (!s || s.id !== externalId) return;
    try {
      const body = await api(`/api/v1/units/${encodeURIComponent(externalId)}/visits?limit=5`);
      if (state.unit !== s) return;
      s.visits = body.visits || [];
      s.visitsTotal = body.total || 0;
    } catch (err) {
      if (handleApiFailure(err) || state.unit !== s) return;
      s.visits = null;
    }
    renderPanel();
  }

  /** The address card's visits (with a form to log one) and the form to open a follow-up. */
  function unitFieldWork(u, canEdit) {
    const s = state.unit;
    const visits = s.visits;
    const list = !visits ? html`<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('card.loading')}</p>`
      : !visits.length ? html`<p class="gm-axis-empty">${t('fw.noVisits')}</p>`
        : html`<ul class="gm-visits">${visits.map((v) => html`<li data-outcome="${v.outcome}"><span class="gm-visit-outcome gm-outcome-${v.outcome}">${label('outcome', v.outcome)}</span>
            <span class="gm-visit-main">${v.note || ''}<span class="gm-muted">${timestamp(v.visited_at)} · ${v.visited_by || ''}</span></span></li>`)}</ul>`;
    const visitForm = canEdit ? html`
      <form class="gm-fw-form" id="gm-visit-form" novalidate>
        <select name="outcome" aria-label="${t('fw.outcome')}">${OUTCOMES.map((o) => html`<option value="${o}">${label('outcome', o)}</option>`)}</select>
        <input name="note" type="text" maxlength="500" placeholder="${t('unit.f.note')}" aria-label="${t('unit.f.note')}">
        <button type="submit" class="gm-btn gm-btn-sm gm-btn-primary">${t('fw.logVisit')}</button>
      </form>` : '';
    const canFollow = canEdit && FOLLOW_STATUSES.includes(u.status);
    const followForm = canFollow ? html`
      <h3 class="gm-section-title">${t('fw.followUp')}</h3>
      <form class="gm-fw-form" id="gm-followup-form" novalidate>
        <input name="due_date" type="date" required aria-label="${t('fw.due')}" value="${s.followDue || ''}">
        <input name="next_step" type="text" maxlength="200" required placeholder="${t('fw.nextStep')}" aria-label="${t('fw.nextStep')}">
        <button type="submit" class="gm-btn gm-btn-sm gm-btn-primary">${t('fw.open')}</button>
      </form>` : '';
    const msg = s.fwMessage ? html`<p class="${s.fwMessage.kind === 'ok' ? 'gm-ok-line' : 'gm-inline-error'}">${s.fwMessage.text}</p>` : '';
    return html`
      <section class="gm-section gm-unit-fieldwork">
        <h3 class="gm-section-title gm-section-row"><span>${t('fw.visits')}</span>${s.visitsTotal ? html`<span class="gm-section-count">${int(s.visitsTotal)}</span>` : ''}</h3>
        ${list}
        ${visitForm}
        ${followForm}
        ${msg}
      </section>`;
  }

  async function onFieldWorkSubmit(ev) {
    ev.preventDefault();
    const s = state.unit;
    if (!s || !s.data) return;
    const data = new FormData(ev.target);
    const visit = ev.target.id === 'gm-visit-form';
    const body = visit
      ? { outcome: data.get('outcome'), note: (data.get('note') || '').trim() || null }
      : { due_date: data.get('due_date') || null, next_step: (data.get('next_step') || '').trim() };
    const path = `/api/v1/units/${encodeURIComponent(s.id)}/${visit ? 'visits' : 'follow-ups'}`;
    try {
      await api(path, { method: 'POST', body });
      if (state.unit !== s) return;
      s.fwMessage = { kind: 'ok', text: t(visit ? 'fw.visitSaved' : 'fw.followSaved') };
      s.fwReset = ev.target.id;
      loadVisits(s.id);
      if (s.data.cell_code) loadFieldWork(s.data.cell_code);
      if (visit) afterVisit(s.data);
      else loadFollowUps();
    } catch (err) {
      if (handleApiFailure(err) || state.unit !== s) return;
      s.fwMessage = { kind: 'error', text: errorText(err) };
    }
    renderPanel();
  }

  // ---------------------------------------------------------------- field work on the map: sweep coverage view

  const sweepOn = () => Boolean(metricDef(state.mv.metric).sweep);

  /** The period of the sweep view: the month of the period picker (this month by default), first to last day. */
  function sweepRange() {
    const month = /^\d{4}-\d{2}$/.test(state.mv.period || '') ? state.mv.period : today().slice(0, 7);
    const [y, m] = month.split('-').map(Number);
    const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
    return { from: `${month}-01`, to: `${month}-${String(last).padStart(2, '0')}` };
  }

  /** The sweep coverage of the city's cells for the period (one request per city and period). */
  async function ensureSweep() {
    if (!state.city) return null;
    const { from, to } = sweepRange();
    const key = `${state.city.code}|${from}|${to}`;
    if (state.sweep && state.sweep.key === key) return state.sweep;
    const q = new URLSearchParams({ from, to });
    const body = await api(`/api/v1/cities/${encodeURIComponent(state.city.code)}/sweep?${q}`);
    const rows = new Map((body.rows || []).map((r) => [String(r[0]), [r[1], r[2], r[3]]]));
    state.sweep = { key, from: body.from || from, to: body.to || to, rows };
    return state.sweep;
  }

  /**
   * Put the sweep figures on an area's properties: a cell's own; a grid, district or the city: the sums
   * over the cells drawn inside it (the map shows every cell of the area drilled into).
   */
  function mergeSweep(p) {
    if (!p || !state.sweep) return;
    const level = levelOf(p);
    const rows = state.sweep.rows;
    if (level === 'cell') {
      const r = rows.get(String(p.code));
      p.sweep_units = r ? r[0] : 0;
      p.sweep_visited = r ? r[1] : 0;
      p.sweep_coverage = r && isNum(r[2]) ? r[2] : null;
      return;
    }
    const inside = level === 'grid' ? (c) => String(c.grid_code) === String(p.code)
      : level === 'district' ? (c) => Boolean(p.name) && c.district_name === p.name
        : level === 'city' ? () => true : null;
    const cells = inside ? (state.cells || []).map((f) => f.properties).filter((c) => levelOf(c) === 'cell' && inside(c)) : [];
    if (!cells.length) return;
    let units = 0;
    let visited = 0;
    cells.forEach((c) => { const r = rows.get(String(c.code)); if (r) { units += r[0]; visited += r[1]; } });
    Object.assign(p, { sweep_units: units, sweep_visited: visited, sweep_coverage: units ? visited / units : null });
  }

  /** The sweep figures of the areas around the cells: the city, the area drilled into, its children. */
  function mergeSweepAround() {
    if (!sweepOn() || !state.sweep) return;
    if (state.cityRow) Object.assign(state.cityRow, sweepOf('city', state.cityRow));
    state.mv.path.forEach((x) => { if (x.props) Object.assign(x.props, sweepOf(x.level, x.props)); });
    if (state.children && state.children.rows) state.children.rows.forEach(mergeSweep);
  }

  const sweepOf = (level, p) => {
    const q = { ...p, level };
    mergeSweep(q);
    return { sweep_units: q.sweep_units, sweep_visited: q.sweep_visited, sweep_coverage: q.sweep_coverage };
  };

  /** A new metric: the sweep view loads its figures (cells only); leaving it restores the level shown before. */
  async function setMetric(key) {
    const was = sweepOn();
    state.mv.metric = metricDef(key).key;
    const now = sweepOn();
    const selected = state.selected ? String(state.selected.feature.properties.code) : null;
    if (now && !was) state.levelBeforeSweep = state.mv.level;
    if (now && (state.mv.level !== 'cell' || String(state.layerLevel) !== 'cell')) {
      state.mv.level = 'cell';
      await loadLayer({ select: selected });
      return;
    }
    if (!now && was) {
      const back = state.levelBeforeSweep;
      state.levelBeforeSweep = null;
      if (back && back !== 'cell') { setLevel(back); return; }
      restyle();
      if (selected && state.fieldWork) loadFieldWork(selected);
      return;
    }
    if (now) {
      const seq = ++state.loadSeq;
      document.body.removeAttribute('data-ready');
      setMapStatus('map.loading');
      try {
        await ensureSweep();
      } catch (err) {
        if (seq === state.loadSeq && !handleApiFailure(err)) setMapStatus('sweep.error', true);
        return;
      }
      if (seq !== state.loadSeq) return;
      setMapStatus(null);
      (state.cells || []).forEach((f) => mergeSweep(f.properties));
      mergeSweepAround();
      if (selected && levelOf(state.selected.feature.properties) === 'cell') loadFieldWork(selected);
    }
    restyle();
  }

  /** After a visit is logged: the sweep figures change (and the map, when it shows them). */
  function afterVisit(u) {
    state.sweep = null;
    if (sweepOn()) {
      const selected = state.selected ? String(state.selected.feature.properties.code) : null;
      loadLayer({ select: selected || u.cell_code, keepUnit: true });
    }
  }

  // ---------------------------------------------------------------- field work on the map: my follow-ups

  const FOLLOW_OUTCOMES = ['won', 'lost', 'dropped'];
  const OWN_STATUSES = ['stock', 'competing'];
  const canFollow = () => Boolean(state.user && EDIT_ROLES.includes(state.user.role));

  /** Days from today (operator's time zone) to a YYYY-MM-DD date. */
  const daysUntil = (d) => Math.round((Date.parse(`${d}T00:00:00Z`) - Date.parse(`${today()}T00:00:00Z`)) / 86400000);

  /** The caller's open follow-ups, by due date (for the list and the header badge). */
  function followState() {
    if (!state.follow) state.follow = { open: false, status: 'loading', items: [], closing: null, draft: null, error: null, busy: false, message: null };
    return state.follow;
  }

  async function loadFollowUps() {
    if (!canFollow()) { renderFollowButton(); return; }
    const f = followState();
    // only the newest load may set the list: an older one still under way when a follow-up was
    // closed (or another load started) would put back what is no longer so
    const seq = (f.seq = (f.seq || 0) + 1);
    if (!f.items.length) f.status = 'loading';
    renderFollow();
    try {
      const body = await api('/api/v1/me/follow-ups?state=open');
      if (state.follow !== f || f.seq !== seq) return;
      f.items = body.follow_ups || [];
      f.status = 'ok';
      if (f.closing !== null && !f.items.some((x) => x.id === f.closing)) f.closing = null;
    } catch (err) {
      if (handleApiFailure(err) || state.follow !== f || f.seq !== seq) return;
      f.status = 'error';
    }
    renderFollowButton();
    renderFollow();
  }

  function renderFollowButton() {
    const btn = $('gm-myfollow');
    btn.hidden = !canFollow();
    const f = state.follow;
    btn.setAttribute('aria-pressed', String(Boolean(f && f.open)));
    const ok = f && f.status === 'ok';
    const n = ok ? f.items.length : 0;
    const overdue = ok ? f.items.filter((x) => x.overdue).length : 0;
    $('gm-follow-count').hidden = !ok;
    $('gm-follow-count').textContent = String(n);
    $('gm-follow-overdue').hidden = !overdue;
    $('gm-follow-overdue').textContent = String(overdue);
    btn.title = ok ? tf('fu.badge', { n, o: overdue }) : t('header.myFollowUps');
  }

  function toggleFollow() {
    if (!canFollow()) return;
    const f = followState();
    f.open = !f.open;
    f.message = null;
    if (f.open && state.areaOpen) closeMyArea();
    renderFollowButton();
    renderFollow();
    if (f.open) loadFollowUps();
  }

  function followItem(x) {
    const days = daysUntil(x.due_date);
    const urgency = x.overdue || days < 0 ? 'overdue' : days <= 7 ? 'soon' : 'later';
    const when = urgency === 'overdue' ? tf('fu.overdueBy', { n: -days }) : days === 0 ? t('fu.dueToday') : tf('fu.dueIn', { n: days });
    const f = state.follow;
    const closing = f.closing === x.id;
    const status = x.status_now || 'unknown';
    const reason = I18N['zh-CN'][`fu.reason.${x.reason}`] ? t(`fu.reason.${x.reason}`) : label('status', x.reason);
    let form = '';
    if (closing) {
      const draft = f.draft || {};
      const wonOk = OWN_STATUSES.includes(status);
      const outcome = draft.outcome && (draft.outcome !== 'won' || wonOk) ? draft.outcome : (wonOk && x.won ? 'won' : 'lost');
      form = html`
        <form class="gm-fu-close" data-follow-form="${x.id}" novalidate>
          <div class="gm-fu-outcomes" role="radiogroup" aria-label="${t('fu.outcome')}">${FOLLOW_OUTCOMES.map((o) => html`
            <label class="gm-fu-outcome gm-fu-outcome-${o}${o === 'won' && !wonOk ? ' is-disabled' : ''}" title="${o === 'won' && !wonOk ? t('fu.wonNeedsStatus') : ''}">
              <input type="radio" name="outcome" value="${o}"${o === outcome ? new Raw(' checked') : ''}${o === 'won' && !wonOk ? new Raw(' disabled') : ''}>
              <span>${t(`fu.outcome.${o}`)}</span></label>`)}</div>
          <input type="text" name="note" maxlength="500" placeholder="${t('fu.note')}" aria-label="${t('fu.note')}" value="${draft.note || ''}">
          ${f.error && f.error.id === x.id ? html`<p class="gm-inline-error">${f.error.text}</p>` : ''}
          <div class="gm-fu-close-actions">
            <button type="button" class="gm-btn gm-btn-sm" data-follow-action="cancel">${t('fu.cancel')}</button>
            <button type="submit" class="gm-btn gm-btn-sm gm-btn-primary"${f.busy ? new Raw(' disabled') : ''}>${t('fu.confirm')}</button>
          </div>
        </form>`;
    }
    return html`
      <li class="gm-fu-item is-${urgency}${closing ? ' is-closing' : ''}" data-follow="${x.id}" data-unit="${x.external_id}" data-due="${x.due_date}">
        <button type="button" class="gm-fu-main" data-follow-action="open" title="${t('fu.open')}">
          <span class="gm-fu-top">
            <span class="gm-fu-due">${x.due_date}</span>
            <span class="gm-fu-when">${when}</span>
            ${x.won ? html`<span class="gm-fu-won" title="${t('fu.wonTitle')}">${t('fu.wonBadge')}</span>` : ''}
          </span>
          <span class="gm-fu-address">${x.address || x.external_id}</span>
          <span class="gm-fu-meta"><span class="gm-mono">${x.cell_code}</span> · ${reason}</span>
          <span class="gm-fu-step"><span class="gm-fu-k">${t('fu.nextStep')}</span>${x.next_step}</span>
          <span class="gm-fu-status"><span class="gm-fu-k">${t('fu.statusNow')}</span><span class="gm-dot" style="background:${statusColor(status)}"></span>${label('status', status)}</span>
        </button>
        ${closing ? '' : html`<button type="button" class="gm-btn gm-btn-sm gm-fu-close-btn" data-follow-action="close">${t('fu.close')}</button>`}
        ${form}
      </li>`;
  }

  function renderFollow() {
    const box = $('gm-follow');
    const f = state.follow;
    renderFollowButton();
    box.hidden = !(f && f.open);
    if (box.hidden) { box.replaceChildren(); return; }
    // keep what is typed in a close form across a re-render
    const typed = box.querySelector('form [name="note"]');
    if (typed && f.closing !== null) f.draft = { ...(f.draft || {}), note: typed.value };
    const head = html`
      <div class="gm-area-head">
        <span class="gm-fu-icon" aria-hidden="true"></span>
        <h2 class="gm-area-title" id="gm-follow-title">${t('fu.title')}</h2>
        <button type="button" class="gm-area-close" data-follow-action="hide" aria-label="${t('panel.close')}" title="${t('panel.close')}">&times;</button>
      </div>`;
    let body;
    if (f.status === 'loading' && !f.items.length) body = html`<p class="gm-loading-line"><span class="gm-spinner" aria-hidden="true"></span>${t('fu.loading')}</p>`;
    else if (f.status === 'error') body = html`<p class="gm-inline-error">${t('fu.error')}</p>`;
    else if (!f.items.length) body = html`<p class="gm-axis-empty gm-fu-empty">${t('fu.empty')}</p><p class="gm-hint">${t('fu.emptyHint')}</p>`;
    else body = html`<ol class="gm-fu-list">${f.items.map(followItem)}</ol>`;
    const overdue = f.items.filter((x) => x.overdue).length;
    box.innerHTML = html`
      ${head}
      ${f.status === 'ok' ? html`<div class="gm-area-role gm-fu-sub">${tf('fu.sub', { n: f.items.length })}${overdue ? html` · <span class="gm-warn">${t('fu.legend.overdue')} ${int(overdue)}</span>` : ''}</div>` : ''}
      ${f.message ? html`<p class="gm-ok-line gm-fu-message">${tf('fu.closed', { a: f.message.a, o: t(`fu.outcome.${f.message.outcome}`) })}</p>` : ''}
      ${body}
      ${f.items.length ? html`<div class="gm-fu-legend"><span class="gm-fu-key is-overdue"></span>${t('fu.legend.overdue')}<span class="gm-fu-key is-soon"></span>${t('fu.legend.soon')}</div>` : ''}`.s;
    const note = box.querySelector('form [name="note"]');
    if (note && f.focusNote) { note.focus(); f.focusNote = false; }
    fitFollowBox();
  }

  /** The list stops above the legend (bottom left) when there is room for a few items. */
  function fitFollowBox() {
    const box = $('gm-follow');
    const legend = $('gm-legend');
    if (box.hidden) return;
    const area = box.parentElement.clientHeight;
    const room = area - box.offsetTop - (legend && !legend.hidden ? legend.offsetHeight + 28 : 16);
    box.style.maxHeight = room >= 280 ? `${room}px` : '';
  }

  /** Fly to a follow-up's address (its city and cell as search finds them) and open its card. */
  async function openFollowUnit(x) {
    let hit = null;
    try {
      const body = await api(`/api/v1/search?${new URLSearchParams({ q: x.external_id, limit: '5' })}`);
      hit = (body.results || []).find((r) => r.kind === 'unit' && r.code === x.external_id) || null;
    } catch (err) {
      if (handleApiFailure(err)) return;
    }
    if (hit) { await goToResult(hit); return; }
    openUnitCard(x.external_id);
  }

  function onFollowClick(ev) {
    const btn = ev.target.closest('[data-follow-action]');
    const f = state.follow;
    if (!btn || !f) return;
    const action = btn.dataset.followAction;
    if (action === 'hide') { f.open = false; renderFollow(); return; }
    const li = btn.closest('[data-follow]');
    const x = li ? f.items.find((it) => String(it.id) === li.dataset.follow) : null;
    if (!x) return;
    if (action === 'open') {
      f.message = null;
      openFollowUnit(x);
    } else if (action === 'close') {
      Object.assign(f, { closing: x.id, draft: null, error: null, message: null, focusNote: true });
      renderFollow();
    } else if (action === 'cancel') {
      Object.assign(f, { closing: null, draft: null, error: null });
      renderFollow();
    }
  }

  function onFollowInput(ev) {
    const f = state.follow;
    const form = ev.target.closest('[data-follow-form]');
    if (!f || !form) return;
    const data = new FormData(form);
    f.draft = { outcome: data.get('outcome'), note: data.get('note') || '' };
  }

  async function onFollowSubmit(ev) {
    ev.preventDefault();
    const f = state.follow;
    const form = ev.target.closest('[data-follow-form]');
    if (!f || !form || f.busy) return;
    const id = Number(form.dataset.followForm);
    const x = f.items.find((it) => it.id === id);
    const data = new FormData(form);
    const outcome = data.get('outcome');
    const note = String(data.get('note') || '').trim();
    f.draft = { outcome, note };
    Object.assign(f, { busy: true, error: null });
    renderFollow();
    try {
      await api(`/api/v1/follow-ups/${id}/close`, { method: 'POST', body: { outcome, note: note || null } });
      if (state.follow !== f) return;
      f.seq = (f.seq || 0) + 1; // a list read before this close must not put the item back
      Object.assign(f, {
        busy: false, closing: null, draft: null,
        message: { a: x ? x.address || x.external_id : String(id), outcome },
        items: f.items.filter((it) => it.id !== id),
      });
      renderFollow();
      if (x && state.fieldWork && state.fieldWork.code === x.cell_code) loadFieldWork(x.cell_code);
      loadFollowUps();
    } catch (err) {
      if (handleApiFailure(err) || state.follow !== f) return;
      Object.assign(f, { busy: false, error: { id, text: errorText(err) } });
      renderFollow();
    }
  }

  // ---------------------------------------------------------------- views: map and administration

  const ADMIN_TABS = [
    { key: 'users', roles: ['admin'] },
    { key: 'org', roles: ADMIN_ROLES },
    { key: 'staff', roles: ADMIN_ROLES },
    { key: 'assignments', roles: ADMIN_ROLES },
    { key: 'audit', roles: ['admin'] },
  ];
  const DEFAULT_POSTS = ['地市政企部经理', '区局营销中心主任', '客户经理', '网格经理', '专业营销中心负责人', '专业营销经理', '市场经理'];

  const canAdmin = () => Boolean(state.user && ADMIN_ROLES.includes(state.user.role));
  const adminTabs = () => ADMIN_TABS.filter((tab) => state.user && tab.roles.includes(state.user.role));

  const adminState = () => ({
    tab: null,
    lists: {}, // users, org, staff, assignments, audit: arrays of rows
    loading: {},
    listError: {},
    filter: {},
    query: { kind: '', staff: '', current: false, action: '' },
    formError: null, // {detail, field}
    formOk: null, // text
    busy: false,
    notice: null, // {title, password}
    message: null, // {kind: ok|error, text}
    confirm: null, // 'tab:key' of a delete awaiting its second click
    fresh: null, // key of the row just created
    districts: {}, // city code → [{code, name}]
  });

  function route() {
    if (!state.user) return;
    const m = /^#\/admin(?:\/([\w-]+))?\/?$/.exec(location.hash);
    if (m && canAdmin()) {
      showView('admin');
      openAdminTab(m[1]);
      return;
    }
    if (m || location.hash === '#/') history.replaceState(null, '', location.pathname + location.search);
    showView('map');
  }

  function showView(view) {
    state.view = view;
    document.body.dataset.view = view;
    $('gm-admin').hidden = view !== 'admin';
    $('gm-nav').hidden = !canAdmin();
    document.querySelectorAll('#gm-nav .gm-nav-link').forEach((a) => {
      if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
  }

  function openAdminTab(key) {
    const tabs = adminTabs();
    const tab = tabs.find((x) => x.key === key) || tabs[0];
    if (!tab) return;
    if (key !== tab.key) history.replaceState(null, '', `#/admin/${tab.key}`);
    const a = state.admin;
    if (a.tab !== tab.key) {
      Object.assign(a, { tab: tab.key, formError: null, formOk: null, notice: null, message: null, confirm: null, fresh: null });
      renderAdmin(false);
    }
    loadAdminTab();
  }

  // ---------------------------------------------------------------- administration: data

  const ADMIN_LISTS = {
    users: { path: '/api/v1/admin/users', key: 'users' },
    org: { path: '/api/v1/admin/org-units', key: 'org_units' },
    staff: { path: '/api/v1/admin/staff', key: 'staff' },
    assignments: { path: '/api/v1/admin/assignments', key: 'assignments' },
    audit: { path: '/api/v1/admin/audit', key: 'entries' },
  };
  // the lists a tab's form suggests values from
  const ADMIN_AUX = { users: ['staff'], org: ['org'], staff: ['org'], assignments: ['staff', 'org'], audit: [] };

  function listPath(name) {
    const a = state.admin;
    const q = new URLSearchParams();
    if (name === 'assignments') {
      if (a.query.kind) q.set('kind', a.query.kind);
      if (a.query.staff.trim()) q.set('staff', a.query.staff.trim());
      if (a.query.current) q.set('on', today());
    } else if (name === 'audit') {
      q.set('limit', '300');
      if (a.query.action) q.set('action', a.query.action);
    }
    const qs = q.toString();
    return ADMIN_LISTS[name].path + (qs ? `?${qs}` : '');
  }

  async function loadList(name) {
    const a = state.admin;
    a.loading[name] = true;
    a.listError[name] = null;
    if (name === a.tab) renderAdminTable();
    try {
      const body = await api(listPath(name));
      if (state.admin !== a) return;
      a.lists[name] = (body && body[ADMIN_LISTS[name].key]) || [];
    } catch (err) {
      if (handleApiFailure(err) || state.admin !== a) return;
      a.listError[name] = errorText(err);
    } finally {
      if (state.admin === a) a.loading[name] = false;
    }
    if (state.view !== 'admin') return;
    if (name === a.tab) renderAdminTable();
    else renderDatalists();
  }

  async function loadDistricts() {
    const a = state.admin;
    await Promise.all(state.cities.filter((c) => !a.districts[c.code]).map(async (c) => {
      try {
        const fc = await api(`/api/v1/cities/${encodeURIComponent(c.code)}/districts`);
        a.districts[c.code] = ((fc && fc.features) || []).map((f) => ({ code: f.properties.code, name: f.properties.name }));
      } catch (err) {
        handleApiFailure(err);
      }
    }));
    if (state.admin === a && state.view === 'admin') renderDatalists();
  }

  function loadAdminTab() {
    const a = state.admin;
    const tab = a.tab;
    loadList(tab);
    ADMIN_AUX[tab].filter((n) => n !== tab && !a.lists[n]).forEach(loadList);
    if (tab === 'users' || tab === 'org') loadDistricts();
  }

  function errorText(err) {
    if (!(err instanceof ApiError)) return t('admin.err.net');
    return err.detail || tf('admin.err.generic', { s: err.status });
  }

  // ---------------------------------------------------------------- administration: forms

  const cityOptions = () => state.cities.map((c) => ({ value: c.code, label: `${c.name}（${c.code}）` }));

  const FORMS = {
    users: () => [
      { name: 'username', label: 'form.username', required: true, max: 64 },
      { name: 'role', label: 'form.role', type: 'select', required: true, options: [{ value: '', label: t('admin.pickRole') }, ...ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }))] },
      { name: 'staff_code', label: 'form.staff_code', list: 'gm-dl-staff' },
      { name: 'region_code', label: 'form.region_code', list: 'gm-dl-regions' },
      { name: 'password', label: 'form.password', type: 'password', placeholder: 'admin.passwordAuto' },
    ],
    org: () => [
      { name: 'code', label: 'form.code', required: true, max: 64 },
      { name: 'name', label: 'form.name', required: true, max: 200 },
      { name: 'kind', label: 'form.kind', type: 'select', required: true, options: ORG_KINDS.map((k) => ({ value: k, label: t(`orgkind.${k}`) })) },
      { name: 'city_code', label: 'form.city_code', type: 'select', required: true, options: cityOptions() },
      { name: 'district_code', label: 'form.district_code', list: 'gm-dl-districts' },
      { name: 'parent_code', label: 'form.parent_code', list: 'gm-dl-org' },
    ],
    staff: () => [
      { name: 'code', label: 'form.staffCode', required: true, max: 64 },
      { name: 'name', label: 'form.staffName', required: true, max: 100 },
      { name: 'post', label: 'form.post', list: 'gm-dl-posts' },
      { name: 'org_unit_code', label: 'form.org_unit_code', list: 'gm-dl-org' },
      { name: 'city_code', label: 'form.city_code', type: 'select', options: [{ value: '', label: t('admin.fromOrgUnit') }, ...cityOptions()] },
    ],
    assignments: () => [
      { name: 'staff_code', label: 'form.asgStaff', required: true, list: 'gm-dl-staff' },
      { name: 'kind', label: 'form.asgKind', type: 'select', required: true, options: ASG_KINDS.map((k) => ({ value: k, label: t(`asgkind.${k}`) })) },
      { name: 'target_code', label: 'form.target_code', required: true, list: 'gm-dl-targets' },
      { name: 'valid_from', label: 'form.valid_from', type: 'date', required: true, value: today },
      { name: 'valid_to', label: 'form.valid_to', type: 'date' },
      { name: 'org_unit_code', label: 'form.asgOrgUnit', list: 'gm-dl-org' },
    ],
  };
  const CREATE_PATH = {
    users: '/api/v1/admin/users',
    org: '/api/v1/admin/org-units',
    staff: '/api/v1/admin/staff',
    assignments: '/api/v1/admin/assignments',
  };

  function fieldHtml(f) {
    const id = `gm-f-${f.name}`;
    const optional = f.required ? '' : html`<span class="gm-optional">${t('admin.optional')}</span>`;
    let control;
    if (f.type === 'select') {
      control = html`<select id="${id}" name="${f.name}">${f.options.map((o) => html`<option value="${o.value}">${o.label}</option>`)}</select>`;
    } else {
      const type = f.type || 'text';
      const value = typeof f.value === 'function' ? f.value() : '';
      control = html`<input id="${id}" name="${f.name}" type="${type}" value="${value}"${f.required ? new Raw(' required') : ''}${f.max ? new Raw(` maxlength="${f.max}"`) : ''}${f.list ? new Raw(` list="${f.list}"`) : ''} autocomplete="${type === 'password' ? 'new-password' : 'off'}" spellcheck="false" placeholder="${f.placeholder ? t(f.placeholder) : ''}">`;
    }
    return html`
      <div class="gm-ffield" data-field="${f.name}">
        <label for="${id}"><span>${t(f.label)}</span>${optional}</label>
        ${control}
        <small class="gm-field-error" hidden></small>
      </div>`;
  }

  function formHtml(tab) {
    const fields = FORMS[tab]();
    return html`
      <form class="gm-admin-form" id="gm-admin-form" data-tab="${tab}" novalidate autocomplete="off">
        <h2 class="gm-box-title">${t(`admin.create.${tab}`)}</h2>
        ${tab === 'users' ? html`<p class="gm-form-hint">${t('admin.scopeHint')}</p>` : ''}
        ${fields.map(fieldHtml)}
        <div class="gm-form-error" id="gm-admin-form-error" role="alert" hidden></div>
        <div class="gm-form-ok" id="gm-admin-form-ok" role="status" hidden></div>
        <button type="submit" class="gm-btn gm-btn-primary gm-btn-block" id="gm-admin-submit">${t('admin.submit')}</button>
      </form>`;
  }

  /** The form's current values (to survive a re-render). */
  function formValues() {
    const form = $('gm-admin-form');
    if (!form) return null;
    return { tab: form.dataset.tab, values: Object.fromEntries(new FormData(form).entries()) };
  }

  function restoreForm(saved) {
    const form = $('gm-admin-form');
    if (!form || !saved || saved.tab !== form.dataset.tab) return;
    Object.entries(saved.values).forEach(([name, value]) => {
      const el = form.elements.namedItem(name);
      if (el && 'value' in el) el.value = value;
    });
  }

  function renderFormStatus() {
    const a = state.admin;
    const form = $('gm-admin-form');
    if (!form) return;
    const err = a.formError;
    const box = $('gm-admin-form-error');
    box.hidden = !err;
    box.replaceChildren();
    form.querySelectorAll('.gm-ffield').forEach((div) => {
      const bad = Boolean(err && err.field && div.dataset.field === err.field);
      div.classList.toggle('is-invalid', bad);
      const input = div.querySelector('input, select');
      if (bad) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
      const small = div.querySelector('.gm-field-error');
      small.hidden = !bad;
      small.textContent = bad ? err.detail : '';
    });
    if (err) {
      const fieldDef = err.field ? FORMS[a.tab]().find((f) => f.name === err.field) : null;
      box.innerHTML = html`
        <span class="gm-form-error-text">${err.detail}</span>
        ${err.field ? html`<span class="gm-form-error-field" data-field="${err.field}">${fieldDef ? t(fieldDef.label) : ''} <code>${err.field}</code></span>` : ''}`.s;
    }
    const ok = $('gm-admin-form-ok');
    ok.hidden = !a.formOk;
    ok.textContent = a.formOk || '';
    const btn = $('gm-admin-submit');
    btn.disabled = a.busy;
    btn.textContent = t(a.busy ? 'admin.busy' : 'admin.submit');
  }

  function renderDatalists() {
    const a = state.admin;
    const box = $('gm-admin-datalists');
    if (!box || !a) return;
    const opt = (value, text) => html`<option value="${value}">${text}</option>`;
    const staff = (a.lists.staff || []).map((s) => opt(s.code, `${s.name}${s.post ? ` · ${s.post}` : ''}`));
    const org = (a.lists.org || []).map((o) => opt(o.code, `${o.name} · ${label('orgkind', o.kind)}`));
    const districts = state.cities.flatMap((c) => (a.districts[c.code] || []).map((d) => opt(d.code, `${c.name} ${d.name}`)));
    const regions = [...state.cities.map((c) => opt(c.code, c.name)), ...districts];
    const posts = [...new Set([...DEFAULT_POSTS, ...(a.lists.staff || []).map((s) => s.post).filter(Boolean)])].map((p) => opt(p, p));
    const kindEl = document.querySelector('#gm-admin-form [name="kind"]');
    const kind = a.tab === 'assignments' && kindEl ? kindEl.value : 'cell';
    let targets = [];
    if (kind === 'cell') {
      targets = (state.cells || []).map((f) => opt(f.properties.code, f.properties.name || ''));
    } else if (kind === 'grid') {
      const seen = new Map();
      (state.cells || []).forEach((f) => { if (f.properties.grid_code) seen.set(f.properties.grid_code, f.properties.grid_name || ''); });
      targets = [...seen].map(([code, name]) => opt(code, name));
    }
    const known = new Map();
    (a.lists.assignments || []).filter((x) => x.kind === kind).forEach((x) => known.set(x.target_code, x.target_name || ''));
    targets = targets.concat([...known].map(([code, name]) => opt(code, name)));
    box.innerHTML = html`
      <datalist id="gm-dl-staff">${staff}</datalist>
      <datalist id="gm-dl-org">${org}</datalist>
      <datalist id="gm-dl-districts">${districts}</datalist>
      <datalist id="gm-dl-regions">${regions}</datalist>
      <datalist id="gm-dl-posts">${posts}</datalist>
      <datalist id="gm-dl-targets">${targets}</datalist>`.s;
  }

  async function onAdminSubmit(ev) {
    ev.preventDefault();
    const a = state.admin;
    const form = ev.target;
    const tab = form.dataset.tab;
    if (a.busy || !CREATE_PATH[tab]) return;
    const body = {};
    FORMS[tab]().forEach((f) => {
      const raw = form.elements.namedItem(f.name).value;
      const value = f.type === 'password' ? raw : raw.trim();
      if (value !== '') body[f.name] = value;
    });
    // the browser's own check first, shown the same way as the server's
    const missing = FORMS[tab]().find((f) => f.required && !body[f.name]);
    a.formOk = null;
    if (missing) {
      a.formError = { detail: `${t(missing.label)}：${state.lang === 'en' ? 'required' : '必填'}`, field: missing.name };
      renderFormStatus();
      form.elements.namedItem(missing.name).focus();
      return;
    }
    a.formError = null;
    a.busy = true;
    renderFormStatus();
    let created;
    try {
      created = await api(CREATE_PATH[tab], { method: 'POST', body });
    } catch (err) {
      if (handleApiFailure(err) || state.admin !== a) return;
      a.busy = false;
      a.formError = { detail: errorText(err), field: err instanceof ApiError ? err.field : null, status: err.status };
      renderFormStatus();
      const bad = a.formError.field && form.elements.namedItem(a.formError.field);
      if (bad && bad.focus) bad.focus();
      return;
    }
    if (state.admin !== a) return;
    a.busy = false;
    const key = rowKey(tab, created || body);
    a.fresh = key;
    a.formOk = tf('admin.created', { x: tab === 'assignments' ? `#${key}` : key });
    if (tab === 'users' && created && created.password) {
      a.notice = { title: tf('admin.passwordNew', { u: created.username }), password: created.password };
    }
    // clear what was typed; keep the choices (kind, city, role) for the next item of the same sort
    form.reset();
    FORMS[tab]().forEach((f) => {
      const el = form.elements.namedItem(f.name);
      if (f.type === 'select' && body[f.name] !== undefined) el.value = body[f.name];
      else if (typeof f.value === 'function') el.value = f.value();
    });
    renderFormStatus();
    renderNotice();
    loadList(tab);
  }

  // ---------------------------------------------------------------- administration: tables

  const mono = (v) => html`<span class="gm-mono">${v ?? '—'}</span>`;
  const named = (name, code) => (code ? html`<span class="gm-named">${name || '—'}<span class="gm-mono gm-sub">${code}</span></span>` : '—');
  const pill = (text, kind) => html`<span class="gm-pill gm-pill-${kind}">${text}</span>`;

  function assignmentState(row) {
    const now = today();
    if (row.valid_from && String(row.valid_from) > now) return 'future';
    if (row.valid_to && String(row.valid_to) < now) return 'ended';
    return 'active';
  }

  function auditDetail(detail) {
    if (detail === null || detail === undefined) return '';
    if (typeof detail !== 'object') return String(detail);
    return Object.entries(detail).filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join('  ');
  }

  function rowKey(tab, row) {
    if (tab === 'users') return row.username;
    if (tab === 'assignments' || tab === 'audit') return String(row.id);
    return row.code;
  }

  function deleteButton(tab, key) {
    const armed = state.admin.confirm === `${tab}:${key}`;
    return html`<button type="button" class="gm-act gm-act-danger${armed ? ' is-armed' : ''}" data-row-action="delete" data-key="${key}">${t(armed ? 'admin.confirmDelete' : 'admin.delete')}</button>`;
  }

  const TABLES = {
    users: [
      { label: 'col.username', cell: (r) => mono(r.username) },
      { label: 'col.role', cell: (r) => t(`role.${r.role}`) },
      { label: 'col.scope', cell: (r) => (r.staff_code ? named(r.staff_name, r.staff_code) : r.region_code ? named(r.region_name, r.region_code) : r.role === 'admin' ? t('area.everything') : '—') },
      { label: 'col.state', cell: (r) => (r.disabled ? pill(t('admin.state.disabled'), 'off') : pill(t('admin.state.active'), 'on')) },
      { label: 'col.created', cell: (r) => html`<span class="gm-muted gm-nowrap">${timestamp(r.created_at)}</span>` },
      {
        label: 'admin.actions',
        cls: 'gm-actions',
        cell: (r) => html`
          <button type="button" class="gm-act" data-row-action="toggle" data-key="${r.username}">${t(r.disabled ? 'admin.enable' : 'admin.disable')}</button>
          <button type="button" class="gm-act" data-row-action="reset" data-key="${r.username}">${t('admin.resetPassword')}</button>`,
      },
    ],
    org: [
      { label: 'col.code', cell: (r) => mono(r.code) },
      { label: 'col.name', cell: (r) => r.name },
      { label: 'col.kind', cell: (r) => pill(label('orgkind', r.kind), r.kind) },
      { label: 'col.city', cell: (r) => r.city_name || r.city_code },
      { label: 'col.district', cell: (r) => r.district_name || '—' },
      { label: 'col.parent', cell: (r) => named(r.parent_name, r.parent_code) },
      { label: 'col.staffCount', cls: 'gm-num', cell: (r) => int(r.staff_count) },
      { label: 'admin.actions', cls: 'gm-actions', cell: (r) => deleteButton('org', r.code) },
    ],
    staff: [
      { label: 'col.staffCode', cell: (r) => mono(r.code) },
      { label: 'col.staffName', cell: (r) => r.name },
      { label: 'col.post', cell: (r) => r.post || '—' },
      { label: 'col.city', cell: (r) => r.city_name || r.city_code },
      { label: 'col.orgUnit', cell: (r) => named(r.org_unit_name, r.org_unit_code) },
      { label: 'admin.actions', cls: 'gm-actions', cell: (r) => deleteButton('staff', r.code) },
    ],
    assignments: [
      { label: 'col.id', cls: 'gm-num', cell: (r) => mono(r.id) },
      { label: 'col.kind', cell: (r) => pill(label('asgkind', r.kind), r.kind) },
      { label: 'col.target', cell: (r) => named(r.target_name, r.target_code) },
      { label: 'col.staff', cell: (r) => named(r.staff_name, r.staff_code) },
      { label: 'col.orgUnit', cell: (r) => html`<span class="gm-nowrap">${r.org_unit_name || '—'}</span>` },
      { label: 'col.validFrom', cell: (r) => html`<span class="gm-nowrap">${r.valid_from}</span>` },
      { label: 'col.validTo', cell: (r) => html`<span class="gm-nowrap">${r.valid_to || '—'}</span>` },
      { label: 'col.state', cell: (r) => { const st = assignmentState(r); return pill(t(`admin.asg.${st}`), st === 'active' ? 'on' : 'off'); } },
      {
        label: 'admin.actions',
        cls: 'gm-actions',
        cell: (r) => {
          const canEnd = assignmentState(r) === 'active' && (!r.valid_to || String(r.valid_to) > today());
          return html`${canEnd ? html`<button type="button" class="gm-act" data-row-action="end" data-key="${r.id}" title="${t('admin.endTitle')}">${t('admin.end')}</button>` : ''}${deleteButton('assignments', String(r.id))}`;
        },
      },
    ],
    audit: [
      { label: 'col.at', cell: (r) => html`<span class="gm-nowrap">${timestamp(r.at)}</span>` },
      { label: 'col.user', cell: (r) => mono(r.username || '—') },
      { label: 'col.action', cell: (r) => html`<span class="gm-named">${label('action', r.action)}<span class="gm-mono gm-sub">${r.action}</span></span>` },
      { label: 'col.detail', cls: 'gm-detail', cell: (r) => html`<span class="gm-mono gm-wrap">${auditDetail(r.detail)}</span>` },
      { label: 'col.rows', cls: 'gm-num', cell: (r) => (r.rows === null || r.rows === undefined ? '—' : int(r.rows)) },
    ],
  };

  function rowText(tab, row) {
    return Object.values(row).map((v) => (v && typeof v === 'object' ? JSON.stringify(v) : String(v ?? ''))).join(' ')
      + (tab === 'org' ? ` ${label('orgkind', row.kind)}` : '') + (tab === 'users' ? ` ${t(`role.${row.role}`)}` : '')
      + (tab === 'assignments' ? ` ${label('asgkind', row.kind)}` : '') + (tab === 'audit' ? ` ${label('action', row.action)}` : '');
  }

  function toolbarHtml(tab) {
    const a = state.admin;
    let extra = '';
    if (tab === 'assignments') {
      extra = html`
        <select class="gm-tool" data-query="kind" aria-label="${t('col.kind')}">
          <option value="">${t('admin.allKinds')}</option>
          ${ASG_KINDS.map((k) => html`<option value="${k}"${a.query.kind === k ? new Raw(' selected') : ''}>${t(`asgkind.${k}`)}</option>`)}
        </select>
        <input class="gm-tool gm-tool-short" data-query="staff" type="search" value="${a.query.staff}" placeholder="${t('col.staffCode')}" aria-label="${t('col.staffCode')}" list="gm-dl-staff">
        <label class="gm-check"><input type="checkbox" data-query="current"${a.query.current ? new Raw(' checked') : ''}>${t('admin.currentOnly')}</label>`;
    } else if (tab === 'audit') {
      const known = Object.keys(I18N['zh-CN']).filter((k) => k.startsWith('action.')).map((k) => k.slice(7));
      const actions = [...new Set([...known, ...(a.lists.audit || []).map((r) => r.action), a.query.action].filter(Boolean))].sort();
      extra = html`
        <select class="gm-tool" data-query="action" aria-label="${t('col.action')}">
          <option value="">${t('admin.allActions')}</option>
          ${actions.map((x) => html`<option value="${x}"${a.query.action === x ? new Raw(' selected') : ''}>${label('action', x)}</option>`)}
        </select>`;
    }
    return html`
      <div class="gm-toolbar">
        <h2 class="gm-box-title">${t(`admin.list.${tab}`)}</h2>
        <span class="gm-count" id="gm-admin-count"></span>
        <div class="gm-toolbar-right">
          ${extra}
          <input class="gm-tool gm-filter" id="gm-admin-filter" type="search" value="${a.filter[tab] || ''}" placeholder="${t('admin.filter')}" aria-label="${t('admin.filter')}">
          <button type="button" class="gm-tool gm-tool-btn" data-admin-action="refresh" title="${t('admin.refresh')}" aria-label="${t('admin.refresh')}">↻</button>
        </div>
      </div>`;
  }

  function renderAdminTable() {
    const a = state.admin;
    const wrap = $('gm-admin-table');
    if (!wrap || !a || !a.tab) return;
    const tab = a.tab;
    const cols = TABLES[tab];
    const rows = a.lists[tab];
    const q = (a.filter[tab] || '').trim().toLowerCase();
    const shown = rows ? rows.filter((r) => !q || rowText(tab, r).toLowerCase().includes(q)) : [];
    const count = $('gm-admin-count');
    if (count) {
      count.textContent = !rows ? '' : q ? tf('admin.countOf', { n: int(shown.length), total: int(rows.length) }) : tf('admin.count', { n: int(rows.length) });
    }
    const msg = a.message ? html`<div class="gm-admin-msg gm-admin-msg-${a.message.kind}" role="${a.message.kind === 'error' ? 'alert' : 'status'}">${a.message.text}</div>` : '';
    let body;
    if (a.listError[tab]) {
      body = html`<p class="gm-inline-error gm-table-note">${a.listError[tab]}</p>`;
    } else if (!rows) {
      body = html`<p class="gm-loading-line gm-table-note"><span class="gm-spinner" aria-hidden="true"></span>${t('admin.loading')}</p>`;
    } else if (!shown.length) {
      body = html`<p class="gm-table-note gm-muted">${t(rows.length ? 'admin.noMatch' : 'admin.empty')}</p>`;
    } else {
      body = html`
        <div class="gm-table-scroll">
          <table class="gm-table" data-tab="${tab}">
            <thead><tr>${cols.map((c) => html`<th class="${c.cls || ''}">${t(c.label)}</th>`)}</tr></thead>
            <tbody>${shown.map((r) => {
              const key = rowKey(tab, r);
              const off = (tab === 'users' && r.disabled) || (tab === 'assignments' && assignmentState(r) !== 'active');
              return html`<tr data-key="${key}" class="${key === a.fresh ? 'is-new' : ''}${off ? ' is-off' : ''}">${cols.map((c) => html`<td class="${c.cls || ''}">${c.cell(r)}</td>`)}</tr>`;
            })}</tbody>
          </table>
        </div>`;
    }
    wrap.classList.toggle('is-busy', Boolean(a.loading[tab] && rows));
    wrap.innerHTML = html`${msg}${body}`.s;
  }

  function renderNotice() {
    const box = $('gm-admin-notice');
    const n = state.admin && state.admin.notice;
    if (!box) return;
    box.hidden = !n;
    if (!n) { box.replaceChildren(); return; }
    box.innerHTML = html`
      <svg class="gm-notice-icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M14.5 3a6.5 6.5 0 0 0-6.2 8.5L2 17.8V22h4.2v-2.1h2.1v-2.1h2.1l1.6-1.6A6.5 6.5 0 1 0 14.5 3zm2 6.2a1.7 1.7 0 1 1 0-3.4 1.7 1.7 0 0 1 0 3.4z" fill="currentColor"/></svg>
      <div class="gm-notice-body">
        <div class="gm-notice-title">${n.title}</div>
        <div class="gm-notice-secret"><code id="gm-admin-password">${n.password}</code>
          <button type="button" class="gm-act" data-admin-action="copy">${t(n.copied ? 'admin.copied' : 'admin.copy')}</button></div>
        <div class="gm-notice-text">${t('admin.passwordOnce')}</div>
      </div>
      <button type="button" class="gm-btn gm-btn-primary" data-admin-action="dismiss">${t('admin.dismiss')}</button>`.s;
  }

  /** Draw the whole administration view (keeping what is typed in the form when asked to). */
  function renderAdmin(keepForm = true) {
    const a = state.admin;
    if (!a || !a.tab) return;
    const saved = keepForm ? formValues() : null;
    const tab = a.tab;
    const tabs = adminTabs();
    $('gm-admin-tabs').innerHTML = toHtml(tabs.map((x) => html`
      <a class="gm-tab" role="tab" href="#/admin/${x.key}" data-tab="${x.key}" aria-selected="${String(x.key === tab)}">${t(`admin.tab.${x.key}`)}</a>`));
    const hasForm = Boolean(FORMS[tab]);
    $('gm-admin-body').innerHTML = html`
      <div class="gm-admin-notice" id="gm-admin-notice" hidden></div>
      <div class="gm-admin-grid${hasForm ? '' : ' is-wide'}">
        <section class="gm-box gm-admin-list" data-tab="${tab}">
          ${toolbarHtml(tab)}
          <div class="gm-admin-table" id="gm-admin-table"></div>
        </section>
        ${hasForm ? html`<aside class="gm-box gm-admin-side">${formHtml(tab)}</aside>` : ''}
      </div>
      <div id="gm-admin-datalists" hidden></div>`.s;
    restoreForm(saved);
    renderDatalists();
    renderFormStatus();
    renderNotice();
    renderAdminTable();
  }

  // ---------------------------------------------------------------- administration: row actions

  async function rowAction(action, key) {
    const a = state.admin;
    const tab = a.tab;
    if (action === 'delete' && a.confirm !== `${tab}:${key}`) {
      a.confirm = `${tab}:${key}`;
      renderAdminTable();
      clearTimeout(a.confirmTimer);
      a.confirmTimer = setTimeout(() => {
        if (state.admin === a && a.confirm === `${tab}:${key}`) { a.confirm = null; renderAdminTable(); }
      }, 4000);
      return;
    }
    a.confirm = null;
    const enc = encodeURIComponent(key);
    let req;
    let done;
    if (tab === 'users' && action === 'toggle') {
      const row = (a.lists.users || []).find((r) => r.username === key);
      req = api(`/api/v1/admin/users/${enc}`, { method: 'PATCH', body: { disabled: !(row && row.disabled) } });
      done = () => tf('admin.updated', { x: key });
    } else if (tab === 'users' && action === 'reset') {
      req = api(`/api/v1/admin/users/${enc}`, { method: 'PATCH', body: { reset_password: true } });
      done = (res) => {
        if (res && res.password) a.notice = { title: tf('admin.passwordReset', { u: key }), password: res.password };
        return tf('admin.updated', { x: key });
      };
    } else if (tab === 'assignments' && action === 'end') {
      const day = today();
      req = api(`/api/v1/admin/assignments/${enc}`, { method: 'PATCH', body: { valid_to: day } });
      done = () => tf('admin.ended', { x: key, d: day });
    } else if (action === 'delete') {
      const path = { org: 'org-units', staff: 'staff', assignments: 'assignments' }[tab];
      if (!path) return;
      req = api(`/api/v1/admin/${path}/${enc}`, { method: 'DELETE' });
      done = () => tf('admin.deleted', { x: tab === 'assignments' ? `#${key}` : key });
    } else {
      return;
    }
    document.querySelectorAll(`#gm-admin-table [data-key="${CSS.escape(key)}"] .gm-act`).forEach((b) => { b.disabled = true; });
    try {
      const res = await req;
      if (state.admin !== a) return;
      a.message = { kind: 'ok', text: done(res) };
      a.fresh = action === 'delete' ? null : key;
      renderNotice();
      loadList(tab);
      if (tab === 'staff' || tab === 'org') ADMIN_AUX.assignments.forEach((n) => { if (n !== tab) delete a.lists[n]; });
    } catch (err) {
      if (handleApiFailure(err) || state.admin !== a) return;
      a.message = { kind: 'error', text: `${key}：${errorText(err)}` };
      renderAdminTable();
    }
  }

  function onAdminClick(ev) {
    const a = state.admin;
    if (!a) return;
    const row = ev.target.closest('[data-row-action]');
    if (row) { rowAction(row.dataset.rowAction, row.dataset.key); return; }
    const btn = ev.target.closest('[data-admin-action]');
    if (!btn) return;
    const action = btn.dataset.adminAction;
    if (action === 'refresh') { a.message = null; loadList(a.tab); }
    else if (action === 'dismiss') { a.notice = null; renderNotice(); }
    else if (action === 'copy' && a.notice) {
      const done = () => { if (a.notice) { a.notice.copied = true; renderNotice(); } };
      if (navigator.clipboard) navigator.clipboard.writeText(a.notice.password).then(done, () => {});
      else { const r = document.createRange(); r.selectNodeContents($('gm-admin-password')); getSelection().removeAllRanges(); getSelection().addRange(r); }
    }
  }

  function onAdminInput(ev) {
    const a = state.admin;
    if (!a) return;
    const el = ev.target;
    // (re-draw only on a real change: a blur's "change" re-drawing the table would swallow the click that caused it)
    if (el.id === 'gm-admin-filter') {
      if ((a.filter[a.tab] || '') === el.value) return;
      a.filter[a.tab] = el.value;
      renderAdminTable();
      return;
    }
    if (el.dataset.query) {
      if (ev.type === 'input' && el.type !== 'search') return;
      const value = el.type === 'checkbox' ? el.checked : el.value;
      if (a.query[el.dataset.query] === value) return;
      a.query[el.dataset.query] = value;
      clearTimeout(a.queryTimer);
      a.queryTimer = setTimeout(() => loadList(a.tab), ev.type === 'input' ? 300 : 0);
      return;
    }
    if (el.form && el.form.id === 'gm-admin-form') {
      if (el.name === 'kind' && a.tab === 'assignments') renderDatalists();
      if (a.formError && a.formError.field === el.name) { a.formError = null; renderFormStatus(); }
    }
  }

  // ---------------------------------------------------------------- start

  async function boot() {
    let lang = 'zh-CN';
    try { lang = localStorage.getItem('gm-lang') || lang; } catch (_) { /* private mode */ }
    state.lang = I18N[lang] ? lang : 'zh-CN';
    applyLang();

    $('gm-login-form').addEventListener('submit', onLoginSubmit);
    $('gm-logout').addEventListener('click', logout);
    $('gm-city-select').addEventListener('change', (ev) => loadCity(ev.target.value));
    $('gm-panel-close').addEventListener('click', () => { if (state.unit) closeUnitCard(); else selectCell(null); });
    $('gm-panel-body').addEventListener('click', onPanelClick);
    $('gm-myarea').addEventListener('click', openMyArea);
    $('gm-myfollow').addEventListener('click', toggleFollow);
    $('gm-follow').addEventListener('click', onFollowClick);
    $('gm-follow').addEventListener('input', onFollowInput);
    $('gm-follow').addEventListener('change', onFollowInput);
    $('gm-follow').addEventListener('submit', onFollowSubmit);
    $('gm-area').addEventListener('click', (ev) => { if (ev.target.closest('[data-area-action="close"]')) closeMyArea(); });
    $('gm-admin-body').addEventListener('click', onAdminClick);
    $('gm-admin-body').addEventListener('input', onAdminInput);
    $('gm-admin-body').addEventListener('change', onAdminInput);
    $('gm-admin-body').addEventListener('submit', onAdminSubmit);
    window.addEventListener('hashchange', route);
    document.querySelectorAll('.gm-lang-btn').forEach((b) => b.addEventListener('click', () => setLang(b.dataset.lang)));
    document.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Escape') return;
      if (state.modal) closeModal();
      else if (state.selected) selectCell(null);
    });
    $('gm-panel-body').addEventListener('submit', onUnitSubmit);
    $('gm-metric').addEventListener('change', (ev) => setMetric(ev.target.value));
    $('gm-method').addEventListener('change', (ev) => { state.mv.method = ev.target.value; restyle(); });
    $('gm-level').addEventListener('click', (ev) => { const b = ev.target.closest('[data-level]'); if (b) setLevel(b.dataset.level); });
    $('gm-asof').addEventListener('change', (ev) => { state.mv.asOf = ev.target.value; reloadView(); });
    $('gm-period').addEventListener('change', (ev) => { state.mv.period = ev.target.value; reloadView(); });
    $('gm-fg').addEventListener('change', (ev) => openFeatureGrid(ev.target.value));
    $('gm-fgbox').addEventListener('click', onFgBoxClick);
    $('gm-crumbs').addEventListener('click', (ev) => { const b = ev.target.closest('[data-crumb]'); if (b) goCrumb(Number(b.dataset.crumb)); });
    $('gm-compare-open').addEventListener('click', () => { openModal('compare'); loadCompare(); });
    $('gm-modal').addEventListener('click', onModalClick);
    $('gm-modal').addEventListener('change', onModalInput);
    $('gm-modal-close').addEventListener('click', closeModal);
    $('gm-search').addEventListener('input', onSearchInput);
    $('gm-search').addEventListener('keydown', onSearchKey);
    $('gm-search').addEventListener('focus', () => { if ($('gm-search').value.trim().length >= 2 && !state.search) onSearchInput(); });
    $('gm-search-results').addEventListener('mousedown', onSearchPick);
    $('gm-search').addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== $('gm-search')) { state.search = null; renderSearch(); } }, 150));

    // the cities are asked for together with the session (a page opened logged in needs both)
    if (CONFIG.session_cookie) state.citiesEarly = api('/api/v1/cities').catch(() => null);
    try {
      startSession(await api('/api/v1/auth/me'));
    } catch (err) {
      state.citiesEarly = null;
      if (!(err instanceof ApiError)) showLogin('login.err.net');
      else showLogin(err.status >= 500 ? 'login.err.server' : null);
    }
  }

  boot();
})();
