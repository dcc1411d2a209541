"""The admin console: the web pages at ``/console/`` where admins, security and auditors run the
site (doors board, live events, alarms), served by the server on the API's origin.

Owns the console's routes, its cookie sessions and CSRF tokens, its role table, its view
models and the templates and assets it ships as package data (no CDN, no inline script).
Queries live in ``doorward.server.domain``; this package formats them. It must not import the
door (``doorward.daemon`` beyond its codec), the kiosk or the simulator.
"""
