"""FastAPI composition: the app factory, routers, auth and error mapping."""
