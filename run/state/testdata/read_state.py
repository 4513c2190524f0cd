# Reads an Airbyte --state file the way the Python CDK does (airbyte_cdk
# Source.read_state, then ConnectorStateManager), written from its
# documented behaviour, and prints what a source would resume from:
#   {"global": bool, "shared": obj|null, "streams": [[name, namespace, state]...],
#    "legacy": [data...]}
# It exits 1 with a message where the CDK would raise, or where it would
# silently drop something (a GLOBAL it ignores, a stream listed twice).
import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    state_obj = json.load(f)

if not isinstance(state_obj, list):
    sys.exit("read_state iterates a list; got %s" % type(state_obj).__name__)

for i, m in enumerate(state_obj):
    if not isinstance(m, dict):
        sys.exit("message %d is not an object" % i)
    if not m.get("stream") and not m.get("data") and not m.get("global"):
        sys.exit("message %d: AirbyteStateMessage should contain either a stream, global, or state field" % i)

is_global = len(state_obj) == 1 and state_obj[0].get("type") == "GLOBAL"
out = {"global": is_global, "shared": None, "streams": [], "legacy": []}
if is_global:
    g = state_obj[0]["global"]
    out["shared"] = g.get("shared_state")
    items = g["stream_states"]
else:
    if any(m.get("type") == "GLOBAL" for m in state_obj):
        sys.exit("a GLOBAL message that is not alone is ignored by ConnectorStateManager")
    items = [m["stream"] for m in state_obj if m.get("type") == "STREAM"]
    out["legacy"] = [m["data"] for m in state_obj if m.get("type") in (None, "LEGACY")]

streams = {}
for s in items:
    d = s["stream_descriptor"]
    key = (d["name"], d.get("namespace"))
    if key in streams:
        sys.exit("stream %r listed twice: the CDK keeps only the last" % (key,))
    streams[key] = s.get("stream_state")
out["streams"] = sorted([[k[0], k[1], v] for k, v in streams.items()], key=lambda x: (x[1] is not None, x[1] or "", x[0]))
json.dump(out, sys.stdout)
