"""The CPE simulator: fleets of simulated set-top boxes speaking CWMP, QRC and the DVB multicast
protocols, with TR-135/TR-140 data models. Pure Python, no Django: it talks to the portal over the
network exactly as a real box would."""
