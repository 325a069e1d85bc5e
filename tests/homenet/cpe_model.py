"""A small CPE for the converge engine's property tests: a dict of truth with TR-069 RPC semantics
(all-or-nothing SetParameterValues, 9005 on unknown names, AddObject numbering), and the ACS's
way of merging each answer into its stored tree (as `acs.services.tasks.complete` does)."""

from __future__ import annotations

from acs.cwmp import messages as m

SSID = "Device.WiFi.SSID."
TABLES = {SSID: {"SSID": ("string", ""), "Enable": ("boolean", "false")}}
SCALARS = {
    "Device.A.Level": "unsignedInt",
    "Device.A.Name": "string",
    "Device.A.On": "boolean",
}


class Fault(Exception):
    pass


class ModelCpe:
    def __init__(self, scalars: dict[str, str], ssids: list[tuple[str, bool]]) -> None:
        self.truth: dict[str, tuple[str, str]] = {p: (v, SCALARS[p]) for p, v in scalars.items()}
        self.objects: set[str] = {"Device.", "Device.A.", "Device.WiFi.", SSID}
        self.next_number = 1
        for ssid, enable in ssids:
            number = self._add(SSID)
            self.truth[f"{SSID}{number}.SSID"] = (ssid, "string")
            self.truth[f"{SSID}{number}.Enable"] = ("true" if enable else "false", "boolean")
        self.rpcs: list[m.AcsRequest] = []

    def _add(self, table: str) -> int:
        number = self.next_number
        self.next_number += 1
        self.objects.add(f"{table}{number}.")
        for name, (xsd_type, default) in TABLES[table].items():
            self.truth[f"{table}{number}.{name}"] = (default, xsd_type)
        return number

    def full_tree(self) -> dict[str, list]:
        """What the ACS stores after a full refresh (GetParameterNames of Device. + values)."""
        tree: dict[str, list] = {obj: [None, None, True] for obj in self.objects}
        for path, (value, xsd_type) in self.truth.items():
            tree[path] = [value, xsd_type, True]
        return tree

    def ssids(self) -> list[tuple[str, str]]:
        """(SSID, Enable) of every instance."""
        out = []
        for obj in sorted(self.objects):
            if obj.startswith(SSID) and obj != SSID:
                out.append((self.truth[obj + "SSID"][0], self.truth[obj + "Enable"][0]))
        return out

    def execute(self, rpc: m.AcsRequest, tree: dict[str, list]) -> tuple[dict[str, list], int]:
        """Run one RPC; return the ACS's tree after merging the answer (and AddObject's number)."""
        self.rpcs.append(rpc)
        tree = {k: list(v) for k, v in tree.items()}
        if isinstance(rpc, m.GetParameterNames):
            if rpc.parameter_path not in self.objects:
                raise Fault(f"9005 {rpc.parameter_path}")
            prefix = rpc.parameter_path
            names = {o for o in self.objects if o.startswith(prefix)}
            leaves = {p for p in self.truth if p.startswith(prefix)}
            for path in [p for p in tree if p.startswith(prefix) and p not in names | leaves]:
                del tree[path]
            for path in names | leaves:
                old = tree.get(path, [None, None, None])
                tree[path] = [old[0], old[1], True]
            return self.execute(m.GetParameterValues(tuple(sorted(leaves))), tree)
        if isinstance(rpc, m.GetParameterValues):
            found = {}
            for name in rpc.names:
                if name.endswith("."):
                    if name not in self.objects:
                        raise Fault(f"9005 {name}")
                    found.update({p: v for p, v in self.truth.items() if p.startswith(name)})
                elif name in self.truth:
                    found[name] = self.truth[name]
                else:
                    raise Fault(f"9005 {name}")
            for path, (value, xsd_type) in found.items():
                old = tree.get(path, [None, None, None])
                tree[path] = [value, xsd_type, old[2]]
            return tree, 0
        if isinstance(rpc, m.SetParameterValues):
            names = [p.name for p in rpc.parameters]
            assert len(names) == len(set(names)), "a name set twice in one request"
            for p in rpc.parameters:
                if p.name not in self.truth:
                    raise Fault(f"9005 {p.name}")
            for p in rpc.parameters:
                self.truth[p.name] = (p.value.text, str(p.value.type))
                old = tree.get(p.name, [None, None, None])
                tree[p.name] = [p.value.text, str(p.value.type), old[2]]
            return tree, 0
        if isinstance(rpc, m.AddObject):
            if rpc.object_name not in TABLES:
                raise Fault(f"9005 {rpc.object_name}")
            return tree, self._add(rpc.object_name)
        if isinstance(rpc, m.DeleteObject):
            if rpc.object_name not in self.objects:
                raise Fault(f"9005 {rpc.object_name}")
            self.objects = {o for o in self.objects if not o.startswith(rpc.object_name)}
            self.truth = {p: v for p, v in self.truth.items() if not p.startswith(rpc.object_name)}
            return {p: v for p, v in tree.items() if not p.startswith(rpc.object_name)}, 0
        raise AssertionError(f"unexpected RPC {rpc}")


def run_round(plan, cpe: ModelCpe, tree: dict[str, list]) -> dict[str, list]:
    """Send a plan the way acs.homenet does: the first round, then the batched SetParameterValues
    once the AddObjects answered."""
    numbers: dict[int, int] = {}
    add_index = 0
    for rpc in plan.first_round():
        tree, number = cpe.execute(rpc, tree)
        if isinstance(rpc, m.AddObject):
            numbers[add_index] = number
            add_index += 1
    for rpc in plan.after_adds(numbers):
        tree, _ = cpe.execute(rpc, tree)
    return tree
