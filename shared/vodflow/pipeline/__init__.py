"""The serverless pipeline: ingest → part_copy fan-out → finalize, the sweeper and the API.

Every step here is a library function on typed inputs; ``functions/<name>/index.py`` only parses
the event, calls one of them and shapes the reply.
"""
