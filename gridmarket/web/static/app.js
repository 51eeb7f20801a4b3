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
    constructor(status, detail, field = null) {
      super(detail || `HTTP ${status}`);
      this.status = status;
      this.detail = detail;
      this.field = field;
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

  async function api(path, { method = 'GET', body } = {}) {
    const headers = { Accept: 'application/json' };
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
    if (!res.ok) throw new ApiError(res.status, ...errorOf(data));
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
    renderLegend();
    renderPanel();
    renderArea();
    $('gm-myarea').title = t('header.myArea');
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
    map.on('click', () => selectCell(null));
    state.map = map;

    if (window.ResizeObserver) {
      state.resizeObserver = new ResizeObserver(() => map.invalidateSize({ debounceMoveend: true }));
      state.resizeObserver.observe($('gm-map'));
    }
  }

  function teardownMap() {
    state.loadSeq += 1; // drop any load in flight
    document.body.removeAttribute('data-ready');
    if (state.resizeObserver) { state.resizeObserver.disconnect(); state.resizeObserver = null; }
    if (state.map) { state.map.remove(); state.map = null; }
    Object.assign(state, {
      cities: [], city: null, cells: null, classes: [], selected: null, cellLayer: null, districtLayers: [],
      hoverOutline: null, selectedOutline: null, highlightRenderer: null, ownRenderer: null, ownOutline: null,
      detail: null, area: null, areaOpen: false, ownCells: [],
    });
    renderArea();
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
      cities = (await api('/api/v1/cities')).cities || [];
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
    $('gm-city-select').value = code;
    setMapStatus('map.loading');
    const base = `/api/v1/cities/${encodeURIComponent(code)}`;
    let districts;
    let cells;
    try {
      [districts, cells] = await Promise.all([api(`${base}/districts`), api(`${base}/cells`)]);
    } catch (err) {
      if (seq === state.loadSeq && !handleApiFailure(err)) setMapStatus('map.error', true);
      return;
    }
    if (seq !== state.loadSeq || !state.map) return;
    draw(districts, cells);
    setMapStatus(cells.features && cells.features.length ? null : 'map.nocells');
    markReady();
  }

  function markReady() {
    // flag the page as drawn once the canvas has painted
    const seq = state.loadSeq;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      if (seq === state.loadSeq) document.body.dataset.ready = '1';
    }));
  }

  /** Quantile classes over the values: non-empty, non-overlapping [min, max] ranges of actual values. */
  function quantileClasses(values, k = N_CLASSES) {
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
    const colours = m === 1 ? [RAMP[2]] : ends.map((_, i) => RAMP[Math.round((i * (RAMP.length - 1)) / (m - 1))]);
    let start = 0;
    return ends.map((end, i) => {
      const cls = { min: uniq[start], max: uniq[end], color: colours[i], count: cum[end] - (start ? cum[start - 1] : 0) };
      start = end + 1;
      return cls;
    });
  }

  function colorFor(value) {
    if (!isNum(value)) return NO_DATA;
    const cls = state.classes.find((c) => value >= c.min && value <= c.max);
    return cls ? cls.color : NO_DATA;
  }

  const cellCode = (f) => (f.id !== undefined && f.id !== null ? String(f.id) : String(f.properties.code));

  function draw(districtsFc, cellsFc) {
    const map = state.map;
    if (state.cellLayer) state.cellLayer.remove();
    state.districtLayers.forEach((l) => l.remove());
    state.hoverOutline = outline(state.hoverOutline, null);
    state.selectedOutline = outline(state.selectedOutline, null);
    state.ownOutline = outline(state.ownOutline, null);
    state.selected = null;
    state.detail = null;

    const features = (cellsFc && cellsFc.features) || [];
    state.cells = features;
    state.classes = quantileClasses(features.map((f) => f.properties.penetration));
    const colorOf = {};

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

    const cellLayer = L.geoJSON(cellsFc, {
      style: (f) => {
        const color = colorFor(f.properties.penetration);
        colorOf[cellCode(f)] = color;
        return { ...CELL_STYLE, fillColor: color };
      },
      onEachFeature: (f, layer) => {
        layer.bindTooltip(() => tooltipHtml(f.properties), { sticky: true, direction: 'top', offset: [0, -8], className: 'gm-tip' });
        layer.on({
          mouseover: () => { state.hoverOutline = outline(state.hoverOutline, f, HOVER_STYLES); },
          mouseout: () => { state.hoverOutline = outline(state.hoverOutline, null); },
          click: (ev) => {
            L.DomEvent.stopPropagation(ev);
            selectCell(layer);
          },
        });
      },
    }).addTo(map);
    state.cellLayer = cellLayer;

    const city = state.city;
    let bounds = null;
    if (city && Array.isArray(city.bbox) && city.bbox.length === 4 && city.bbox.every(isNum)) {
      const [minx, miny, maxx, maxy] = city.bbox;
      bounds = L.latLngBounds([miny, minx], [maxy, maxx]);
    }
    if (!bounds || !bounds.isValid()) bounds = cellLayer.getBounds();
    if (!bounds.isValid()) bounds = districtLine.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24] });
    else map.setView([35, 105], 4);

    window.gmMap = {
      map,
      cellLayer,
      classes: state.classes.map(({ min, max, color }) => ({ min, max, color })),
      colorOf,
      noDataColor: NO_DATA,
      city: city ? city.code : null,
      ownCells: [],
    };
    applyArea(false);
    renderLegend();
    renderPanel();
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

  function selectCell(layer) {
    state.selected = layer;
    state.selectedOutline = outline(state.selectedOutline, layer ? layer.feature : null, SELECTED_STYLES);
    $('gm-panel').classList.toggle('is-open', Boolean(layer));
    const code = layer ? String(layer.feature.properties.code) : null;
    if (!code) state.detail = null;
    else if (!state.detail || state.detail.code !== code) {
      $('gm-panel').scrollTop = 0;
      loadCellDetail(code);
      loadCellUnits(code);
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

  function onPanelClick(ev) {
    const btn = ev.target.closest('[data-card-action]');
    if (!btn || !state.detail) return;
    const code = state.detail.code;
    if (btn.dataset.cardAction === 'more') {
      btn.disabled = true;
      loadCellUnits(code);
    } else if (btn.dataset.cardAction === 'retry-detail') {
      loadCellDetail(code);
      renderPanel();
    }
  }

  // ---------------------------------------------------------------- legend, tooltip, panel

  function renderLegend() {
    const list = $('gm-legend-items');
    const classes = state.classes;
    $('gm-legend').hidden = !state.cells;
    if (!state.cells) { list.replaceChildren(); return; }
    const nulls = state.cells.filter((f) => !isNum(f.properties.penetration)).length;
    const range = (c) => (c.min === c.max ? pct(c.min) : `${pct(c.min)} – ${pct(c.max)}`);
    const item = (color, label, count, extra) => html`
      <li class="gm-legend-item${extra}" data-color="${color}">
        <span class="gm-swatch" style="background:${color}"></span>
        <span class="gm-legend-label">${label}</span>
        <span class="gm-legend-count">${int(count)}</span>
      </li>`;
    list.innerHTML = toHtml([
      ...classes.slice().reverse().map((c) => item(c.color, range(c), c.count, '')),
      item(NO_DATA, t('legend.nodata'), nulls, ' is-nodata'),
    ]);
  }

  function tooltipHtml(p) {
    return html`
      <div class="gm-tip-name">${p.name || p.code}</div>
      <div class="gm-tip-row"><span>${t('field.penetration')}</span><b>${pct(p.penetration)}</b></div>
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

  function kpis(penetration, coverage, revenue) {
    return html`
      <div class="gm-kpis">
        <div class="gm-kpi gm-kpi-main">
          <span class="gm-kpi-label">${t('field.penetration')}</span>
          <span class="gm-kpi-value">${colorFor(penetration) !== NO_DATA ? html`<span class="gm-swatch" style="background:${colorFor(penetration)}"></span>` : ''}${pct(penetration)}</span>
        </div>
        <div class="gm-kpi">
          <span class="gm-kpi-label">${t('field.coverage')}</span>
          <span class="gm-kpi-value">${pct(coverage)}</span>
        </div>
        <div class="gm-kpi">
          <span class="gm-kpi-label">${t('field.revenue')}</span>
          <span class="gm-kpi-value">${money(revenue)}</span>
        </div>
      </div>`;
  }

  function cellCard(p) {
    const type = p.type ? (I18N[state.lang][`type.${p.type}`] ? t(`type.${p.type}`) : p.type) : t('type.none');
    const source = p.source ? t(`source.${p.source}`) : '';
    const grid = p.grid_name ? (p.grid_code ? `${p.grid_name}（${p.grid_code}）` : p.grid_name) : p.grid_code;
    return html`
      <div class="gm-card" data-cell="${p.code}">
        <div class="gm-card-head">
          <h2 class="gm-card-title">${p.name || p.code}</h2>
          <div class="gm-card-code">${p.code}${source ? html` · <span class="gm-badge gm-badge-${p.source}">${source}</span>` : ''}</div>
        </div>
        <dl class="gm-kv">
          <dt>${t('field.grid')}</dt><dd>${grid || '—'}</dd>
          <dt>${t('field.district')}</dt><dd>${p.district_name || '—'}</dd>
          <dt>${t('field.type')}</dt><dd>${type}</dd>
          <dt>${t('card.featureGrids')}</dt><dd class="gm-fg-cell">${featureGridChips()}</dd>
        </dl>
        ${kpis(p.penetration, p.coverage, p.revenue)}
        ${matrixSection()}
        <dl class="gm-kv gm-kv-nums gm-section">
          <dt>${t('field.units')}</dt><dd>${int(p.units)}</dd>
          <dt>${t('field.surveyed')}</dt><dd>${int(p.surveyed)}</dd>
          <dt>${t('field.demand')}</dt><dd>${int(p.demand)}</dd>
        </dl>
        ${statusMix(countsOf(p), p.units || 0)}
        ${addressSection(p)}
      </div>`;
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
      <span class="gm-chip" data-code="${f.code}" title="${f.code}"><span class="gm-chip-type">${label('type', f.type) || t('type.none')}</span>${f.name || f.code}</span>`)}</span>`;
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
        <div class="gm-addr-line">${u.address || u.external_id}</div>
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
    const cells = state.cells || [];
    const sum = (key) => cells.reduce((acc, f) => acc + (Number(f.properties[key]) || 0), 0);
    const units = sum('units');
    const counts = Object.fromEntries(STATUSES.map((s) => [s.key, sum(`n_${s.key}`)]));
    const demand = counts.stock + counts.competing + counts.other_network + counts.potential;
    const city = state.city;
    return html`
      <div class="gm-card gm-overview">
        <div class="gm-card-head">
          <div class="gm-eyebrow">${t('panel.overview')}</div>
          <h2 class="gm-card-title">${city ? city.name : '—'}</h2>
        </div>
        ${kpis(ratio(counts.stock + counts.competing, demand), ratio(units - counts.unknown, units), sum('revenue'))}
        <dl class="gm-kv gm-kv-nums">
          <dt>${t('panel.cells')}</dt><dd>${int(cells.length)}</dd>
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
    body.innerHTML = (layer ? cellCard(layer.feature.properties) : overviewCard()).s;
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
    $('gm-panel-close').addEventListener('click', () => selectCell(null));
    $('gm-panel-body').addEventListener('click', onPanelClick);
    $('gm-myarea').addEventListener('click', openMyArea);
    $('gm-area').addEventListener('click', (ev) => { if (ev.target.closest('[data-area-action="close"]')) closeMyArea(); });
    $('gm-admin-body').addEventListener('click', onAdminClick);
    $('gm-admin-body').addEventListener('input', onAdminInput);
    $('gm-admin-body').addEventListener('change', onAdminInput);
    $('gm-admin-body').addEventListener('submit', onAdminSubmit);
    window.addEventListener('hashchange', route);
    document.querySelectorAll('.gm-lang-btn').forEach((b) => b.addEventListener('click', () => setLang(b.dataset.lang)));
    document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && state.selected) selectCell(null); });

    try {
      startSession(await api('/api/v1/auth/me'));
    } catch (err) {
      if (!(err instanceof ApiError)) showLogin('login.err.net');
      else showLogin(err.status >= 500 ? 'login.err.server' : null);
    }
  }

  boot();
})();
