#!/usr/bin/env python3
"""(Re)generate the diagram interchange (DI) of BPMN files so that bpmn-js shows a tidy swimlane diagram.

Authors write only the semantic XML; this tool adds the pool (collaboration/participant) when missing and
rewrites the whole bpmndi:BPMNDiagram: lanes as horizontal bands, flow nodes on a grid (columns by longest
path from the start events, sub-rows inside each lane), orthogonal sequence flows, loops routed above rows.

    layout.py FILE...          rewrite each file in place
    layout.py --check FILE...  exit 1 listing files whose DI is missing or stale; write nothing
"""
from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict

from lxml import etree

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI"}
ACTIVITIES = {"task", "callActivity", "subProcess", "transaction", "adHocSubProcess"}
POOL_X, POOL_Y, HEADER = 160, 80, 30          # pool origin; pool and lane name bands are 30 px wide
MARGIN, COL_GAP, MIN_COL = 50, 60, 90         # columns are at least 90 wide: room for external labels
ROW_TOP, ROW_BOTTOM, LANE_MIN = 44, 36, 150   # per row: corridor for loops above shapes, labels below
SUB_PAD, TRACK = 20, 6                        # expanded subprocess padding; spacing of parallel loops


def q(prefix, name):
    return f"{{{NS[prefix]}}}{name}"


def kind(el):
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def is_node(el):
    return kind(el).endswith(("Event", "Gateway", "Task")) or kind(el) in ACTIVITIES


def grid_nodes(container):  # flow nodes laid on the grid: boundary events ride on their activity
    return [c for c in container if is_node(c) and kind(c) != "boundaryEvent"]


def size_of(el):
    k = kind(el)
    return (36, 36) if k.endswith("Event") else (50, 50) if k.endswith("Gateway") else (100, 80)


def text_box(name, width=90):  # rough width of an 11 px label; bpmn-js wraps external labels at 90 px
    est = sum(11 if ord(ch) > 0x2E80 else 6 for ch in name)
    return min(est, width), 14 * max(1, math.ceil(est / width))


def simplify(points):  # round, drop repeated points and the middle of straight runs
    out = []
    for x, y in points:
        p = (round(x), round(y))
        if out and p == out[-1]:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == p[0] or out[-2][1] == out[-1][1] == p[1]):
            out[-1] = p
        else:
            out.append(p)
    return out


class Layout:
    def __init__(self, process):
        self.process = process
        self.box, self.row, self.col, self.parent = {}, {}, {}, {}  # id -> [x,y,w,h], row (top, bottom), column (left, right)
        self.back, self.sides, self.tracks, self.waypoints = set(), defaultdict(set), defaultdict(list), {}
        self.lanes, self.labels, self.boundary_index = [], {}, {}

    def place(self, container, lanes, min_h=0):
        """Grid-lay the direct flow nodes of `container`, one band per lane, at origin (0, 0).
        Returns (ids placed, nested ones included), width and the lane heights."""
        lane_of = {n.get("id"): i for i, lane in enumerate(lanes) for n in lane}
        nodes = {n.get("id"): n for lane in lanes for n in lane}
        placed, size, inner = [], {}, {}
        for nid, n in nodes.items():
            self.parent[nid] = container.get("id")
            if grid_nodes(n):  # expanded subprocess: lay its content out first, move it in below
                inner[nid], w, heights = self.place(n, [grid_nodes(n)])
                size[nid] = (w + 2 * SUB_PAD, sum(heights) + SUB_PAD)
                placed += inner[nid]
            else:
                size[nid] = size_of(n)
        attached = {b.get("id"): b.get("attachedToRef") for b in container if kind(b) == "boundaryEvent"}
        flows = [f for f in container if kind(f) == "sequenceFlow"]
        succ = defaultdict(list)
        for f in sorted(flows, key=lambda f: f.get("sourceRef") in attached):  # main successors before exceptions
            s, t = attached.get(f.get("sourceRef"), f.get("sourceRef")), f.get("targetRef")
            if s in nodes and t in nodes:
                succ[s].append((t, f.get("id")))
        state, post = {}, []

        def visit(u):  # DFS: a flow back to a node still open closes a loop
            state[u] = "open"
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
        for u in reversed(post):  # topological order: longest path gives the column
            for v, fid in succ[u]:
                if fid not in self.back:
                    col[v] = max(col[v], col[u] + 1)
                    pred[v].append(u)
        sub, taken = {}, set()
        for u in reversed(post):  # same lane and column: next sub-row; otherwise follow the predecessor's
            r = next((sub[p] for p in pred[u] if lane_of[p] == lane_of[u]), 0)
            while (lane_of[u], r, col[u]) in taken:
                r += 1
            sub[u] = r
            taken.add((lane_of[u], r, col[u]))
        colw, rowh = [MIN_COL] * (max(col.values(), default=0) + 1), defaultdict(int)
        for u in nodes:
            colw[col[u]] = max(colw[col[u]], size[u][0])
            rowh[lane_of[u], sub[u]] = max(rowh[lane_of[u], sub[u]], size[u][1])
        colx = [0]
        for w in colw[:-1]:
            colx.append(colx[-1] + w + COL_GAP)
        rowy, heights, y = {}, [], 0
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
            x, y = colx[c] + (colw[c] - w) / 2, rowy[k] + ROW_TOP + (rowh[k] - h) / 2
            self.box[u] = [x, y, w, h]
            self.row[u] = (rowy[k], rowy[k] + ROW_TOP + rowh[k] + ROW_BOTTOM)
            self.col[u] = (colx[c], colx[c] + colw[c])
            if u in inner:
                self.shift(inner[u], x + SUB_PAD, y + SUB_PAD / 2)
        return placed + list(nodes), colx[-1] + colw[-1], heights

    def shift(self, ids, dx, dy):
        for i in ids:
            self.box[i][0] += dx
            self.box[i][1] += dy
            self.row[i] = (self.row[i][0] + dy, self.row[i][1] + dy)
            self.col[i] = (self.col[i][0] + dx, self.col[i][1] + dx)

    def run(self):
        p = self.process
        lanes = [lane for ls in p.findall("bpmn:laneSet", NS) for lane in ls.findall("bpmn:lane", NS)]
        nodes = grid_nodes(p)
        where = {ref.text.strip(): i for i, lane in enumerate(lanes) for ref in lane.iter(q("bpmn", "flowNodeRef"))}
        groups = [[n for n in nodes if where.get(n.get("id"), 0) == i] for i in range(max(1, len(lanes)))]
        ids, width, heights = self.place(p, groups, LANE_MIN)
        left = POOL_X + HEADER * (2 if lanes else 1) + MARGIN
        self.shift(ids, left, POOL_Y)
        self.pool = [POOL_X, POOL_Y, left - POOL_X + width + MARGIN, sum(heights)]
        y = POOL_Y
        for lane, h in zip(lanes, heights):
            self.lanes.append((lane.get("id"), [POOL_X + HEADER, y, self.pool[2] - HEADER, h]))
            y += h
        hosts = defaultdict(list)
        for b in p.iter(q("bpmn", "boundaryEvent")):
            if b.get("attachedToRef") in self.box:
                hosts[b.get("attachedToRef")].append(b.get("id"))
        for host, events in hosts.items():  # boundary events spread along the bottom edge of the activity
            x, y, w, h = self.box[host]
            for i, b in enumerate(events):
                self.box[b] = [x + w * (i + 1) / (len(events) + 1) - 18, y + h - 18, 36, 36]
                self.row[b], self.col[b], self.parent[b] = self.row[host], self.col[host], host
                self.boundary_index[b] = i
        self.hosts = set(hosts)
        flows = [f for f in p.iter(q("bpmn", "sequenceFlow"))
                 if f.get("sourceRef") in self.box and f.get("targetRef") in self.box]
        for f in flows:
            if f.get("id") not in self.back:
                self.waypoints[f.get("id")] = self.forward(f.get("sourceRef"), f.get("targetRef"))
        loops = [f for f in flows if f.get("id") in self.back]  # inner (shorter) loops take the inner tracks
        for f in sorted(loops, key=lambda f: self.box[f.get("sourceRef")][0] - self.box[f.get("targetRef")][0]):
            self.waypoints[f.get("id")] = self.loop(f.get("sourceRef"), f.get("targetRef"))
        for f in flows:
            pts = self.waypoints[f.get("id")]
            self.note_side(f.get("sourceRef"), pts[0])
            self.note_side(f.get("targetRef"), pts[-1])
            if f.get("name"):
                self.labels[f.get("id")] = self.flow_label(f, pts)
        for n in p.iter():
            if n.get("name") and n.get("id") in self.box and kind(n).endswith(("Event", "Gateway")):
                self.labels[n.get("id")] = self.node_label(n)

    def hits(self, pts, skip):  # how many shapes the route passes through
        count = 0
        for (x1, y1), (x2, y2) in zip(pts, pts[1:]):
            for nid, (x, y, w, h) in self.box.items():
                if nid not in skip and min(x1, x2) < x + w and max(x1, x2) > x \
                        and min(y1, y2) < y + h and max(y1, y2) > y:
                    count += 1
        return count

    def forward(self, s, t):
        (sx, sy, sw, sh), (tx, ty, tw, th) = self.box[s], self.box[t]
        scx, scy, tcy = sx + sw / 2, sy + sh / 2, ty + th / 2
        skip, a = {s, t}, s
        while a in self.parent:  # the shapes enclosing the source (subprocess, host activity)
            a = self.parent[a]
            skip.add(a)
        before, after = self.col[t][0] - 15, self.col[s][1] + 15  # vertical runs stay in the column gaps
        if kind(self.node(s)) == "boundaryEvent":  # leave downward, then right into the target
            low = self.row[s][1] - 6
            cands = [[(scx, sy + sh), (scx, tcy), (tx, tcy)]] if tcy > sy + sh + 10 else []
            cands.append([(scx, sy + sh), (scx, low), (before, low), (before, tcy), (tx, tcy)])
        else:
            right = (sx + sw, scy)
            cands = [[right, (tx, tcy)]] if abs(scy - tcy) < 1 else []
            if tcy > scy + 1 and s not in self.hosts:  # lower row: leave from the bottom
                cands.append([(scx, sy + sh), (scx, tcy), (tx, tcy)])
            cands += [[right, (before, scy), (before, tcy), (tx, tcy)],
                      [right, (after, scy), (after, tcy), (tx, tcy)]]
            top = self.row[s][0] + 6  # last resort for a blocked row: over the top, into the target's top
            cands.append([(scx, sy), (scx, top), (tx + tw / 2, top), (tx + tw / 2, ty)])
        return simplify(min(cands, key=lambda c: self.hits(c, skip)))

    def loop(self, s, t):
        """A flow back to an earlier column: up into the corridor above the source row, left along it, through
        the gap right of the target's column to the corridor above the target's row, down into the target."""
        (sx, sy, sw, sh), (tx, ty, tw, th) = self.box[s], self.box[t]
        scx, tcx = sx + sw / 2, tx + tw / 2
        boundary = kind(self.node(s)) == "boundaryEvent"
        k = 0
        while True:  # lowest track free in both corridors
            vx = self.col[t][1] + 8 + TRACK * k
            ex = tcx - 15 * k - (20 if s == t else 0) if tw == 100 else tcx
            spans = [(self.row[t][0], min(ex, vx), max(ex, vx))]
            if not boundary:
                spans.append((self.row[s][0], min(vx, scx), max(vx, scx)))
            if all(k2 != k or b2 < a or a2 > b for key, a, b in spans for a2, b2, k2 in self.tracks[key]):
                break
            k += 1
        for key, a, b in spans:
            self.tracks[key].append((a, b, k))
        yt = self.row[t][0] + ROW_TOP - 6 - TRACK * k
        if boundary:
            start, ys = [(scx, sy + sh)], self.row[s][1] - 6
        else:
            start, ys = [(scx, sy)], self.row[s][0] + ROW_TOP - 6 - TRACK * k
        return simplify(start + [(scx, ys), (vx, ys), (vx, yt), (ex, yt), (ex, ty)])

    def node(self, nid):
        return self.process.xpath(".//*[@id=$i]", i=nid)[0]

    def note_side(self, nid, point):
        x, y, w, h = self.box[nid]
        if abs(point[1] - y) < 1:
            self.sides[nid].add("top")
        elif abs(point[1] - y - h) < 1:
            self.sides[nid].add("bottom")

    def node_label(self, n):
        nid = n.get("id")
        (x, y, w, h), (lw, lh) = self.box[nid], text_box(n.get("name"))
        if kind(n) == "boundaryEvent":  # first one labelled to its left, the others to their right
            return [x - 82, y + 22, 80, lh] if self.boundary_index[nid] == 0 else [x + 38, y + 22, 80, lh]
        if "bottom" not in self.sides[nid]:
            return [x + w / 2 - 45, y + h + 5, 90, lh]
        if "top" not in self.sides[nid]:
            return [x + w / 2 - 45, y - 5 - lh, 90, lh]
        return [x - 85, self.row[nid][1] - ROW_BOTTOM + 2, 80, lh]  # both used: below-left, under the row

    def flow_label(self, f, pts):
        w, h = text_box(f.get("name"))
        (x0, y0), (x1, y1) = pts[0], pts[1]
        if f.get("id") in self.back or x0 == x1 and len(pts) > 2 and y1 < y0:  # leaves upward: beside it
            return [x0 + 4, y0 - h - 6, w, h]
        if y0 != y1:  # leaves vertically: above the last horizontal run
            (x0, y0), (x1, y1) = next((a, b) for a, b in zip(pts[-2::-1], pts[::-1]) if a[1] == b[1])
        return [min(x0, x1) + 5, y0 - h - 4, w, h]


def find_process(root):
    procs = root.findall("bpmn:process", NS)
    execs = [p for p in procs if p.get("isExecutable") == "true"] or procs
    if len(execs) != 1:
        raise SystemExit(f"expected exactly one executable bpmn:process, found {len(execs)}")
    return execs[0]


def find_collaboration(root, pid):
    for c in root.findall("bpmn:collaboration", NS):
        for part in c.findall("bpmn:participant", NS):
            if part.get("processRef") == pid:
                return c, part
    return None, None


def ensure_collaboration(root, process):
    collab, part = find_collaboration(root, process.get("id"))
    if collab is not None:
        return collab, part
    pid = process.get("id")
    collab = etree.Element(q("bpmn", "collaboration"), id=f"collab_{pid}")
    part = etree.SubElement(collab, q("bpmn", "participant"), id=f"participant_{pid}")
    if process.get("name"):
        part.set("name", process.get("name"))
    part.set("processRef", pid)
    # first child of definitions, after any import/extension (the schema wants those first)
    i = next(i for i, c in enumerate(root) if kind(c) not in ("", "import", "extension"))
    collab.text, part.tail = "\n    ", "\n  "
    collab.tail = root[i - 1].tail if i else root.text
    root.insert(i, collab)
    return collab, part


def draw(root, collab, part, lay, pid):
    diagram = etree.SubElement(root, q("bpmndi", "BPMNDiagram"), id=f"diagram_{pid}")
    plane = etree.SubElement(diagram, q("bpmndi", "BPMNPlane"), id=f"plane_{pid}", bpmnElement=collab.get("id"))

    def bounds(parent, b):
        etree.SubElement(parent, q("dc", "Bounds"), {k: str(round(v)) for k, v in zip("x y width height".split(), b)})

    def shape(ref, b, **extra):
        el = etree.SubElement(plane, q("bpmndi", "BPMNShape"), {"id": f"{ref}_di", "bpmnElement": ref, **extra})
        bounds(el, b)
        if ref in lay.labels:
            bounds(etree.SubElement(el, q("bpmndi", "BPMNLabel")), lay.labels[ref])

    def edge(ref, points):
        el = etree.SubElement(plane, q("bpmndi", "BPMNEdge"), id=f"{ref}_di", bpmnElement=ref)
        for x, y in points:
            etree.SubElement(el, q("di", "waypoint"), x=str(round(x)), y=str(round(y)))
        if ref in lay.labels:
            bounds(etree.SubElement(el, q("bpmndi", "BPMNLabel")), lay.labels[ref])

    shape(part.get("id"), lay.pool, isHorizontal="true")
    y = lay.pool[1] + lay.pool[3]
    for other in collab.findall("bpmn:participant", NS):  # other pools (message partners) as empty bands below
        if other is not part:
            y += 40
            lay.box[other.get("id")] = [POOL_X, y, lay.pool[2], 100]
            shape(other.get("id"), lay.box[other.get("id")], isHorizontal="true")
            y += 100
    lay.box.setdefault(part.get("id"), lay.pool)
    for lane_id, b in lay.lanes:
        shape(lane_id, b, isHorizontal="true")
    for n in lay.process.iter():
        nid = n.get("id")
        if is_node(n) and nid in lay.box:
            extra = {"isMarkerVisible": "true"} if kind(n) == "exclusiveGateway" else {}
            if kind(n) in ACTIVITIES - {"task", "callActivity"}:
                extra = {"isExpanded": "true" if grid_nodes(n) else "false"}
            shape(nid, lay.box[nid], **extra)
    for f in lay.process.iter(q("bpmn", "sequenceFlow")):
        if f.get("id") in lay.waypoints:
            edge(f.get("id"), lay.waypoints[f.get("id")])
    for m in collab.findall("bpmn:messageFlow", NS):  # rare: a straight vertical-ish line between the two
        s, t = lay.box.get(m.get("sourceRef")), lay.box.get(m.get("targetRef"))
        if s and t:
            down = s[1] < t[1]
            x = s[0] + s[2] / 2
            tx = x if t[0] < x < t[0] + t[2] else t[0] + t[2] / 2
            sy, ty = (s[1] + s[3], t[1]) if down else (s[1], t[1] + t[3])
            edge(m.get("id"), simplify([(x, sy), (x, (sy + ty) / 2), (tx, (sy + ty) / 2), (tx, ty)]))
    etree.indent(diagram, space="  ", level=1)
    prev = diagram.getprevious()
    if prev is not None and not (prev.tail or "").strip():
        prev.tail = "\n  "
    diagram.tail = "\n"


def expected(root, process):
    """Ids that must have DI: pool, lanes, flow nodes, sequence and message flows."""
    collab, part = find_collaboration(root, process.get("id"))
    ids = {part.get("id")} | {m.get("id") for m in collab.iter(q("bpmn", "messageFlow"))}
    ids |= {lane.get("id") for ls in process.findall("bpmn:laneSet", NS) for lane in ls.findall("bpmn:lane", NS)}
    return ids | {n.get("id") for n in process.iter() if is_node(n) or kind(n) == "sequenceFlow"}


def check(path):
    root = etree.parse(path).getroot()
    process = find_process(root)
    if find_collaboration(root, process.get("id"))[0] is None:
        return "no collaboration/participant for the process"
    have = {el.get("bpmnElement") for el in root.iter(q("bpmndi", "BPMNShape"), q("bpmndi", "BPMNEdge"))}
    existing = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    missing, gone = expected(root, process) - have, have - existing
    problems = ([f"missing DI for {', '.join(sorted(missing))}"] if missing else []) + \
               ([f"DI for removed {', '.join(sorted(gone))}"] if gone else [])
    return "; ".join(problems)


def layout(path):
    tree = etree.parse(path, etree.XMLParser(strip_cdata=False))
    root = tree.getroot()
    missing = {p: u for p, u in NS.items() if u not in root.nsmap.values() and p not in root.nsmap}
    if missing:  # declare the DI namespaces on the root, like the modeler does
        new = etree.Element(root.tag, dict(root.attrib), nsmap={**root.nsmap, **missing})
        new.text = root.text
        new.extend(list(root))
        tree._setroot(new)
        root = new
    process = find_process(root)
    for old in root.findall("bpmndi:BPMNDiagram", NS):
        root.remove(old)
    collab, part = ensure_collaboration(root, process)
    lay = Layout(process)
    lay.run()
    draw(root, collab, part, lay, process.get("id"))
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(tree, encoding="unicode") + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report files whose DI is missing or stale")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    stale = 0
    for path in args.files:
        if args.check:
            problem = check(path)
            if problem:
                stale += 1
                print(f"{path}: {problem}")
        else:
            layout(path)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
