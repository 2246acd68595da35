"""The app's routers, one module per resource."""
