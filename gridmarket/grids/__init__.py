"""The domain and its storage: settings, engine, models, migrations, metrics, organisation."""
