#!/usr/bin/env python3
"""Regenerate the diagram interchange (DI) of BPMN files so that bpmn-js shows a tidy swimlane diagram.

Authors write only the semantic XML. This adds the pool (collaboration) if missing and rewrites the whole
bpmndi:BPMNDiagram: lanes as bands, flow nodes on a grid (column = longest path from the start events, sub-rows
within a lane), orthogonal flows, loops routed through corridors above the rows.
Usage: layout.py FILE...  (rewrite in place) | layout.py --check FILE...  (exit 1 listing stale files)
"""

import argparse
import itertools
import math
import re
import sys
from collections import defaultdict

from lxml import etree

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
ACTIVITIES = {"task", "callActivity", "subProcess", "transaction", "adHocSubProcess"}
POOL_X, POOL_Y, HEADER = 160, 80, 30  # pool origin; pool and lane name bands are 30 px wide
MARGIN, COL_GAP, MIN_COL = 50, 70, 90  # columns are at least 90 wide: room for external labels
ROW_TOP, ROW_BOTTOM, LANE_MIN = 44, 40, 150  # per row: corridor for loops above the shapes, labels below
SUB_PAD, TRACK = 20, 6  # expanded subprocess padding; spacing of parallel loops
PARSER = etree.XMLParser(strip_cdata=False)


def q(prefix, name):
    return f"{{{NS[prefix]}}}{name}"


def kind(el):
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def is_node(el):
    return kind(el).endswith(("Event", "Gateway", "Task")) or kind(el) in ACTIVITIES


def grid_nodes(container):  # flow nodes placed on the grid; boundary events ride on their activity
    return [c for c in container if is_node(c) and kind(c) != "boundaryEvent"]


def text_box(name, width=90):  # rough size of an 11 px label; bpmn-js wraps it at the DI width
    est = sum(11 if ord(ch) > 0x2E80 else 7 for ch in name) + 6
    return min(est, width), 14 * math.ceil(est / width)


def overlap(r, b):  # rectangles [x, y, w, h]; a run of a flow is a rectangle of zero width or height
    return r[0] < b[0] + b[2] and r[0] + r[2] > b[0] and r[1] < b[1] + b[3] and r[1] + r[3] > b[1]


def runs(pts):
    return [[min(a[0], b[0]), min(a[1], b[1]), abs(a[0] - b[0]), abs(a[1] - b[1])] for a, b in itertools.pairwise(pts)]


def simplify(points):  # round; drop repeated points and the middle of straight runs
    out = []
    for p in ((round(x), round(y)) for x, y in points):
        if out and p == out[-1]:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == p[0] or out[-2][1] == out[-1][1] == p[1]):
            out[-1] = p
        else:
            out.append(p)
    return out


class Layout:
    def __init__(self, process):
        self.process, self.el = process, {e.get("id"): e for e in process.iter() if is_node(e)}
        self.box, self.row, self.col, self.parent = {}, {}, {}, {}  # [x, y, w, h]; row (top, bottom); col (left, right)
        self.back, self.tracks, self.waypoints, self.labels, self.runs = set(), defaultdict(list), {}, {}, []

    def place(self, container, lanes, min_h=0):
        """Grid-lay the direct flow nodes of `container`, one band per lane, from (0, 0).
        Returns the ids placed (nested ones too), the width and the lane heights."""
        lane_of = {n.get("id"): i for i, lane in enumerate(lanes) for n in lane}
        nodes, placed, size, inner = {n.get("id"): n for lane in lanes for n in lane}, [], {}, {}
        for nid, n in nodes.items():
            self.parent[nid] = container.get("id")
            size[nid] = (36, 36) if kind(n).endswith("Event") else (50, 50) if "Gateway" in kind(n) else (100, 80)
            if grid_nodes(n):  # expanded subprocess: lay its content out first, move it in below
                inner[nid], w, heights = self.place(n, [grid_nodes(n)])
                size[nid], placed = (w + 2 * SUB_PAD, sum(heights) + SUB_PAD), placed + inner[nid]
        attached = {b.get("id"): b.get("attachedToRef") for b in container if kind(b) == "boundaryEvent"}
        flows = [f for f in container if kind(f) == "sequenceFlow"]
        succ = defaultdict(list)  # a boundary event's flows count as its activity's, after the normal ones
        for f in sorted(flows, key=lambda f: f.get("sourceRef") in attached):
            s, t = attached.get(f.get("sourceRef"), f.get("sourceRef")), f.get("targetRef")
            if s in nodes and t in nodes:
                succ[s].append((t, f.get("id")))
        state, pre, post = {}, [], []

        def visit(u):  # DFS from the start events: a flow back to a node still open closes a loop
            state[u] = "open"
            pre.append(u)
            for v, fid in succ[u]:
                if state.get(v) == "open":
                    self.back.add(fid)
                elif v not in state:
                    visit(v)
            state[u] = "done"
            post.append(u)

        targets = {v for vs in succ.values() for v, _ in vs}
        for u in sorted(nodes, key=lambda u: (kind(nodes[u]) != "startEvent", u in targets)):
            if u not in state:
                visit(u)
        col, pred = dict.fromkeys(nodes, 0), defaultdict(list)
        for u in reversed(post):  # topological order: the longest path gives the column
            for v, fid in succ[u]:
                if fid not in self.back:
                    col[v], pred[v] = max(col[v], col[u] + 1), pred[v] + [u]
        sub, taken = {}, set()
        for u in sorted(nodes, key=lambda u: (col[u], pre.index(u))):  # keep the predecessor's sub-row if free
            r = next((sub[p] for p in sorted(pred[u], key=pre.index) if lane_of[p] == lane_of[u]), 0)
            while (lane_of[u], r, col[u]) in taken:
                r += 1
            sub[u] = r
            taken.add((lane_of[u], r, col[u]))
        colw, rowh = [MIN_COL] * (max(col.values(), default=0) + 1), defaultdict(int)
        for u in nodes:
            colw[col[u]] = max(colw[col[u]], size[u][0])
            rowh[lane_of[u], sub[u]] = max(rowh[lane_of[u], sub[u]], size[u][1])
        colx, rowy, heights, y = [0], {}, [], 0
        for w in colw[:-1]:
            colx.append(colx[-1] + w + COL_GAP)
        for i in range(len(lanes)):
            keys = sorted(k for k in rowh if k[0] == i)
            h = sum(ROW_TOP + rowh[k] + ROW_BOTTOM for k in keys)
            top = y + max(0, min_h - h) / 2
            for k in keys:
                rowy[k], top = top, top + ROW_TOP + rowh[k] + ROW_BOTTOM
            heights.append(max(h, min_h))
            y += heights[-1]
        for u in nodes:
            (w, h), c, k = size[u], col[u], (lane_of[u], sub[u])
            self.box[u] = [colx[c] + (colw[c] - w) / 2, rowy[k] + ROW_TOP + (rowh[k] - h) / 2, w, h]
            self.row[u] = [rowy[k], rowy[k] + ROW_TOP + rowh[k] + ROW_BOTTOM]
            self.col[u] = [colx[c], colx[c] + colw[c]]
            if u in inner:
                self.shift(inner[u], self.box[u][0] + SUB_PAD, self.box[u][1] + SUB_PAD / 2)
        return placed + list(nodes), colx[-1] + colw[-1], heights

    def shift(self, ids, dx, dy):
        for i in ids:
            for v, (d0, d1) in ((self.box[i], (dx, dy)), (self.row[i], (dy, dy)), (self.col[i], (dx, dx))):
                v[0], v[1] = v[0] + d0, v[1] + d1

    def run(self):
        p = self.process
        lanes = [lane for ls in p.findall("bpmn:laneSet", NS) for lane in ls.findall("bpmn:lane", NS)]
        where = {(r.text or "").strip(): i for i, lane in enumerate(lanes) for r in lane.iter(q("bpmn", "flowNodeRef"))}
        groups = [[n for n in grid_nodes(p) if where.get(n.get("id"), 0) == i] for i in range(max(1, len(lanes)))]
        ids, width, heights = self.place(p, groups, LANE_MIN)  # nodes in no lane go to the first one
        left = POOL_X + HEADER * (2 if lanes else 1) + MARGIN
        self.shift(ids, left, POOL_Y)
        self.pool = [POOL_X, POOL_Y, left - POOL_X + width + MARGIN, sum(heights)]
        self.lanes = [
            (lane.get("id"), [POOL_X + HEADER, POOL_Y + sum(heights[:i]), self.pool[2] - HEADER, heights[i]])
            for i, lane in enumerate(lanes)
        ]
        flows = list(p.iter(q("bpmn", "sequenceFlow")))
        target, hosts = {f.get("sourceRef"): f.get("targetRef") for f in flows}, defaultdict(list)
        for b in p.iter(q("bpmn", "boundaryEvent")):
            if b.get("attachedToRef") in self.box:
                hosts[b.get("attachedToRef")].append(b.get("id"))
        for host, events in hosts.items():  # on the bottom edge, 48 apart, off the centre (loop markers)
            x, y, w, h = self.box[host]
            events.sort(key=lambda b: -self.box.get(target.get(b), [0, 0])[1])  # deepest target leftmost: no crossing
            for i, b in enumerate(events):
                dx = 48 * (i - (len(events) - 1) / 2) + 24 * (len(events) % 2)
                self.box[b] = [x + w / 2 + dx - 18, y + h - 18, 36, 36]
                self.row[b], self.col[b], self.parent[b] = self.row[host], self.col[host], host
        self.hosts = set(hosts)
        flows = [f for f in flows if f.get("sourceRef") in self.box and f.get("targetRef") in self.box]
        for f in flows:
            if f.get("id") not in self.back:
                self.waypoints[f.get("id")] = self.forward(f.get("sourceRef"), f.get("targetRef"))
        loops = [f for f in flows if f.get("id") in self.back]  # shorter loops take the inner tracks
        for f in sorted(loops, key=lambda f: self.box[f.get("sourceRef")][0] - self.box[f.get("targetRef")][0]):
            self.waypoints[f.get("id")] = self.loop(f.get("sourceRef"), f.get("targetRef"))
        for nid, n in self.el.items():  # labels last: each takes the candidate spot that covers least
            if n.get("name") and nid in self.box and kind(n).endswith(("Event", "Gateway")):
                self.labels[nid] = self.node_label(n)
        for f in flows:
            if f.get("name"):
                self.labels[f.get("id")] = self.flow_label(f, self.waypoints[f.get("id")])

    def forward(self, s, t):
        (sx, sy, sw, sh), (tx, ty, tw, th) = self.box[s], self.box[t]
        scx, scy, tcy, skip, a = sx + sw / 2, sy + sh / 2, ty + th / 2, {s, t}, s
        while a in self.parent:  # the shapes enclosing the source (subprocess, host activity) don't block
            a = self.parent[a]
            skip.add(a)
        before, after = self.col[t][0] - 15, self.col[s][1] + 15  # vertical runs stay in the column gaps
        if kind(self.el[s]) == "boundaryEvent":  # leave downward, then right into the target
            low = self.row[s][1] - 4
            cands = [[(scx, sy + sh), (scx, tcy), (tx, tcy)]] if tcy > sy + sh + 10 else []
            cands.append([(scx, sy + sh), (scx, low), (before, low), (before, tcy), (tx, tcy)])
        else:
            right = (sx + sw, scy)
            cands = [[right, (tx, tcy)]] if abs(scy - tcy) < 1 else []
            if tcy > scy + 1 and s not in self.hosts:  # lower row: leave from the bottom
                cands.append([(scx, sy + sh), (scx, tcy), (tx, tcy)])
            cands += [[right, (before, scy), (before, tcy), (tx, tcy)], [right, (after, scy), (after, tcy), (tx, tcy)]]
            top = self.row[s][0] + 6  # last resort for a blocked row: over the top, into the target's top
            cands.append([(scx, sy), (scx, top), (tx + tw / 2, top), (tx + tw / 2, ty)])
        blocked = [b for i, b in self.box.items() if i not in skip]
        pts = simplify(min(cands, key=lambda c: sum(overlap(r, b) for r in runs(c) for b in blocked)))
        for i in range(1, len(pts) - 2):  # move inner vertical runs off other flows' (flows sharing an end may share)
            (x, y1), (x2, y2) = pts[i], pts[i + 1]
            while x == x2 and any(
                abs(vx - x) < 4 and min(a, b) < max(y1, y2) and max(a, b) > min(y1, y2) and s != s2 and t != t2
                for vx, a, b, s2, t2 in self.runs
            ):
                x = x2 = x - 8
            pts[i], pts[i + 1] = (x, y1), (x2, y2)
        return self.record(pts, s, t)

    def record(self, pts, s, t):  # remember vertical runs, for later flows to keep off
        self.runs += [(a[0], a[1], b[1], s, t) for a, b in itertools.pairwise(pts) if a[0] == b[0]]
        return pts

    def loop(self, s, t):
        """A flow back to an earlier column: up into the corridor above the source row, left along it, through
        the gap right of the target's column to the corridor above the target's row, down into the target."""
        (sx, sy, sw, sh), (tx, ty, tw, _) = self.box[s], self.box[t]
        scx, tcx, boundary, k = sx + sw / 2, tx + tw / 2, kind(self.el[s]) == "boundaryEvent", 0
        while True:  # the lowest track free in both corridors
            vx = self.col[t][1] + 8 + TRACK * k
            ex = tcx - 15 * k - (20 if s == t else 0) if tw == 100 else tcx  # tasks: spread the entries
            spans = [(self.row[t][0], min(ex, vx), max(ex, vx))]
            spans += [] if boundary else [(self.row[s][0], min(vx, scx), max(vx, scx))]
            if all(k2 != k or b2 < a or a2 > b for key, a, b in spans for a2, b2, k2 in self.tracks[key]):
                break
            k += 1
        for key, a, b in spans:
            self.tracks[key].append((a, b, k))
        track = ROW_TOP - 14 - TRACK * k  # its height within a corridor
        yt = self.row[t][0] + track
        start, ys = ((scx, sy + sh), self.row[s][1] - 6) if boundary else ((scx, sy), self.row[s][0] + track)
        return self.record(simplify([start, (scx, ys), (vx, ys), (vx, yt), (ex, yt), (ex, ty)]), s, t)

    def best(self, cands, own=None):  # the first candidate covering least; a shape or label is worse than a flow
        return min(
            cands,
            key=lambda r: (
                3 * sum(overlap(r, b) for b in [*self.box.values(), *self.labels.values()])
                + sum(overlap(r, run) for f, pts in self.waypoints.items() if f != own for run in runs(pts))
            ),
        )

    def node_label(self, n):
        (x, y, w, h), (lw, lh) = self.box[n.get("id")], text_box(n.get("name"))
        cx = x + w / 2
        if kind(n) == "boundaryEvent":  # beside it under the activity, or below it
            return self.best(
                [
                    [x - 4 - lw, y + 22, lw, lh],
                    [x + 40, y + 22, lw, lh],
                    [cx + 6, y + h + 2, lw, lh],
                    [cx - 6 - lw, y + h + 2, lw, lh],
                ]
            )
        return self.best(
            [
                [cx - lw / 2, y + h + 4, lw, lh],
                [cx - lw / 2, y - lh - 4, lw, lh],
                [cx + 6, y + h + 2, lw, lh],
                [cx - 6 - lw, y + h + 2, lw, lh],
                [cx + 6, y - lh - 2, lw, lh],
                [cx - 6 - lw, y - lh - 2, lw, lh],
            ]
        )

    def flow_label(self, f, pts):
        (w, h), across, down, legs = text_box(f.get("name")), [], [], list(itertools.pairwise(pts))
        for i, (a, b) in enumerate(legs[:1] + legs[-1:] + legs[1:-1]):  # near the source, near the target, between
            if a[1] == b[1]:  # horizontal: above or below, next to its start, clear of a default-flow slash
                off = 14 if i == 0 and self.el[f.get("sourceRef")].get("default") == f.get("id") else 6
                x = a[0] + off if b[0] > a[0] else a[0] - off - w
                across += [[x, a[1] - h - 3, w, h], [x, a[1] + 3, w, h]]
            else:  # vertical: right or left of its middle
                down += [[a[0] + 4, (a[1] + b[1] - h) / 2, w, h], [a[0] - 4 - w, (a[1] + b[1] - h) / 2, w, h]]
        # horizontal runs first (vertical ones are often shared), but a loop is labelled where it rises
        return self.best(down + across if f.get("id") in self.back else across + down, own=f.get("id"))


def process_and_pool(root):
    procs = root.findall("bpmn:process", NS)
    execs = [p for p in procs if p.get("isExecutable") == "true"] or procs
    if len(execs) != 1:
        raise SystemExit(f"expected exactly one executable bpmn:process, found {len(execs)}")
    for c in root.findall("bpmn:collaboration", NS):
        for part in c.findall("bpmn:participant", NS):
            if part.get("processRef") == execs[0].get("id"):
                return execs[0], c, part
    return execs[0], None, None


def bounds(parent, r):
    etree.SubElement(parent, q("dc", "Bounds"), {k: str(round(v)) for k, v in zip(("x", "y", "width", "height"), r)})


def draw(root, collab, part, lay, pid):
    diagram = etree.SubElement(root, q("bpmndi", "BPMNDiagram"), id=f"diagram_{pid}")
    plane = etree.SubElement(diagram, q("bpmndi", "BPMNPlane"), id=f"plane_{pid}", bpmnElement=collab.get("id"))

    def add(ref, tag, b=None, points=(), **extra):
        el = etree.SubElement(plane, q("bpmndi", tag), {"id": f"{ref}_di", "bpmnElement": ref, **extra})
        for x, y in points:
            etree.SubElement(el, q("di", "waypoint"), x=str(round(x)), y=str(round(y)))
        if b:
            bounds(el, b)
        if ref in lay.labels:
            bounds(etree.SubElement(el, q("bpmndi", "BPMNLabel")), lay.labels[ref])

    add(part.get("id"), "BPMNShape", lay.pool, isHorizontal="true")
    lay.box[part.get("id")], y = lay.pool, lay.pool[1] + lay.pool[3]
    for other in collab.findall("bpmn:participant", NS):  # other pools (message partners): empty bands below
        if other is not part:
            lay.box[other.get("id")], y = [POOL_X, y + 40, lay.pool[2], 100], y + 140
            add(other.get("id"), "BPMNShape", lay.box[other.get("id")], isHorizontal="true")
    for lane_id, b in lay.lanes:
        add(lane_id, "BPMNShape", b, isHorizontal="true")
    for nid, n in lay.el.items():
        if nid in lay.box:
            extra = {"isMarkerVisible": "true"} if kind(n) == "exclusiveGateway" else {}
            if kind(n) in ACTIVITIES - {"task", "callActivity"}:
                extra = {"isExpanded": "true" if grid_nodes(n) else "false"}
            add(nid, "BPMNShape", lay.box[nid], **extra)
    for f in lay.process.iter(q("bpmn", "sequenceFlow")):
        if f.get("id") in lay.waypoints:
            add(f.get("id"), "BPMNEdge", points=lay.waypoints[f.get("id")])
    for m in collab.findall("bpmn:messageFlow", NS):  # rare: vertical lines between the pools
        s, t = lay.box.get(m.get("sourceRef")), lay.box.get(m.get("targetRef"))
        if s and t:
            x = s[0] + s[2] / 2
            tx = x if t[0] < x < t[0] + t[2] else t[0] + t[2] / 2
            sy, ty = (s[1] + s[3], t[1]) if s[1] < t[1] else (s[1], t[1] + t[3])
            add(m.get("id"), "BPMNEdge", points=simplify([(x, sy), (x, (sy + ty) / 2), (tx, (sy + ty) / 2), (tx, ty)]))
    etree.indent(diagram, space="  ", level=1)
    if diagram.getprevious() is not None and not (diagram.getprevious().tail or "").strip():
        diagram.getprevious().tail = "\n  "
    diagram.tail = "\n"


def check(path):
    """What is missing or stale in the DI of a file ('' if nothing)."""
    root = etree.parse(path, PARSER).getroot()
    process, collab, part = process_and_pool(root)
    if collab is None:
        return "no collaboration/participant for the process"
    want = {part.get("id")} | {m.get("id") for m in collab.iter(q("bpmn", "messageFlow"))}
    want |= {lane.get("id") for ls in process.findall("bpmn:laneSet", NS) for lane in ls.findall("bpmn:lane", NS)}
    want |= {n.get("id") for n in process.iter() if is_node(n) or kind(n) == "sequenceFlow"}
    have = {el.get("bpmnElement") for el in root.iter(q("bpmndi", "BPMNShape"), q("bpmndi", "BPMNEdge"))}
    gone = have - {el.get("id") for el in root.iter() if isinstance(el.tag, str)}
    return "; ".join(
        ([f"no DI for {', '.join(sorted(want - have))}"] if want - have else [])
        + ([f"DI for removed {', '.join(sorted(gone))}"] if gone else [])
    )


def layout(path):
    tree = etree.parse(path, PARSER)
    root = tree.getroot()
    missing = {p: u for p, u in NS.items() if u not in root.nsmap.values() and p not in root.nsmap}
    if missing:  # declare the DI namespaces on the root like the modeler does (lxml can only do it by re-parsing)
        decl = "".join(f' xmlns:{p}="{u}"' for p, u in missing.items())  # after the existing declarations
        text = re.sub(
            r'<([\w.-]+:)?definitions(\s+xmlns(:[\w.-]+)?="[^"]*")*',
            lambda m: m[0] + decl,
            etree.tostring(tree, encoding="unicode"),
            count=1,
        )
        tree = etree.fromstring(text, PARSER).getroottree()
        root = tree.getroot()
    process, collab, part = process_and_pool(root)
    for old in root.findall("bpmndi:BPMNDiagram", NS):
        root.remove(old)
    if collab is None:  # first child of definitions, after any import/extension (the schema wants them first)
        pid = process.get("id")
        collab = etree.Element(q("bpmn", "collaboration"), id=f"collab_{pid}")
        part = etree.SubElement(collab, q("bpmn", "participant"), id=f"participant_{pid}")
        part.attrib.update({"name": process.get("name")} if process.get("name") else {})
        part.set("processRef", pid)
        i = next(i for i, c in enumerate(root) if kind(c) not in ("", "import", "extension"))
        collab.text, part.tail, collab.tail = "\n    ", "\n  ", root[i - 1].tail if i else root.text
        root.insert(i, collab)
    lay = Layout(process)
    lay.run()
    draw(root, collab, part, lay, process.get("id"))
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(tree, encoding="unicode") + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report files whose DI is missing or stale")
    ap.add_argument("files", nargs="+")
    args, stale = ap.parse_args(argv), 0
    for path in args.files:
        problem = check(path) if args.check else layout(path)
        if problem:
            stale += 1
            print(f"{path}: {problem}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
