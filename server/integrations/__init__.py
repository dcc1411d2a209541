"""What the server tells the systems a site already runs: webhooks in the Standard Webhooks
format (``webhooks``), Prometheus metrics on ``/metrics`` (``metrics``, ``metrics_route``),
and an MQTT bridge with Home Assistant discovery (``discovery`` builds the payloads as pure
functions, ``mqtt_bridge`` owns the broker connection and the durable alarm cursor).

Part of the server room: imports the server's own modules and, from the door, only the
codec. The vendor libraries (prometheus-client, paho-mqtt) are imported here and nowhere else.
"""
