"""The site's rules: people and their fingers and grants, the directory (sites, zones,
schedules, holidays), doors and stations, pairing, accounts and roles, alarms, event intake
and its losses, and the event log's queries. Imports ``store`` and the codec.
"""
