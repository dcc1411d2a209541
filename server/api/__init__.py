"""The HTTP API: the application factory, routes by resource, request models, dependencies,
body limits, the login throttle, the offline documentation pages and the embedded uvicorn
server. Calls ``domain`` and ``bundles``; holds no business rule of its own.
"""
