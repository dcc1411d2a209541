"""What the door keeps on disk besides its journal: the encrypted permission cache and its
schema and crypto, the credential, the status file, the clock anchor and the module record.

Imports the codec and ``library.slotmap``; never the controller, reader, sync or runtime.
"""
