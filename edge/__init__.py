"""FlowSuite's edge agent: runs on a Raspberry Pi (or any Linux box) next to the cameras.

It never imports Django: it talks to the server only through the HTTP API, authenticated with
a device key. Its own requirements are in edge/requirements.txt.
"""

# Sent in heartbeats, so the site shows which agent each camera runs.
__version__ = "1"
