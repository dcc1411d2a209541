"""Background duties: the monitor (door-offline alarms, template retention, rebuilding dirty
bundles) and alarm delivery (webhook, syslog); the MQTT bridge is in ``integrations``.
"""
