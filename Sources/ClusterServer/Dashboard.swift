// The admin port's dashboard (GET /): one self-contained page, no network fetches beyond
// this node's own /cluster, /stats and /nodes, that polls them every second and draws the
// cluster as this node sees it: nodes with their request rate, CPU and memory, shards and
// their leaders on a slot map, the cluster's throughput and this node's p99 latency, CPU
// and memory over the last five minutes, and the events it noticed between polls (leader
// changes, nodes joining or leaving, readiness changes).
// GET /stats is the page's feed: this node's counters and latency buckets as JSON.
import Dispatch
import NodeRuntime

enum Dashboard {
    /// This node's live numbers for the page: cumulative counters (the page takes
    /// differences between polls) and the request-latency buckets of every class merged.
    static func statsJSON(_ host: NodeHost) -> String {
        let node = host.node
        let cpu = ProcessStats.cpuSeconds()
        var merged = LatencyHistogram()
        for histogram in host.requestLatency.all { merged.merge(histogram) }
        let buckets = merged.cumulative.map { bound, count in
            "[\(bound.isInfinite ? "null" : "\(bound)"),\(count)]"
        }.joined(separator: ",")
        return "{\"node\":\(node.me.rawValue),\"time_ms\":\(DispatchTime.now().uptimeNanoseconds / 1_000_000),"
            + "\"commands\":\(node.commandsProcessed),\"requests\":\(merged.count),\"clients\":\(node.connectedClientCount),"
            + "\"keys\":\(node.keyCount),\"cpu_seconds\":\(cpu.user + cpu.system),\"rss_bytes\":\(ProcessStats.residentBytes()),"
            + "\"ready\":\(node.readiness.ready),\"latency_buckets\":[\(buckets)]}"
    }

    static let page = #"""
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>Trestle node</title>
    <style>
    body{font:14px system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
    h1{font-size:20px;margin:0 0 8px} h2{font-size:15px;margin:16px 0 6px}
    .cards{display:flex;gap:12px;flex-wrap:wrap}
    .card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
    .card b{display:block;font-size:22px}
    table{border-collapse:collapse;background:#fff} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
    #slotmap{display:flex;height:28px;border:1px solid #999;background:#eee;width:100%}
    #slotmap div{height:100%} .legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
    svg{background:#fff;border:1px solid #ddd} #events{background:#fff;border:1px solid #ddd;max-height:180px;overflow:auto;padding:4px 8px;margin:0}
    .bad{color:#b00}
    </style></head><body>
    <h1>Trestle node <span id="node-id">?</span> <small id="ready-state">connecting…</small></h1>
    <div class="cards">
      <div class="card">nodes<b id="node-count">-</b></div>
      <div class="card">shards<b id="shard-count">-</b></div>
      <div class="card">ops/s, cluster<b id="cluster-ops">-</b></div>
      <div class="card">ops/s here<b id="ops">-</b></div>
      <div class="card">p99 latency (bucket bound)<b id="p99">-</b></div>
      <div class="card">CPU<b id="cpu">-</b></div>
      <div class="card">memory (RSS)<b id="memory">-</b></div>
      <div class="card">keys led here<b id="keys">-</b></div>
      <div class="card">clients<b id="clients">-</b></div>
    </div>
    <h2>Slot map (colour: the shard's leader)</h2>
    <div id="slotmap"></div><div class="legend" id="legend"></div>
    <h2>Throughput (ops/s), last 5 minutes, whole cluster</h2>
    <svg id="chart-cluster-ops" width="600" height="120"><polyline fill="none" stroke="#26a" stroke-width="2" points=""/></svg>
    <h2>Throughput (ops/s) and p99 latency (ms), last 5 minutes, this node</h2>
    <svg id="chart-ops" width="600" height="120"><polyline fill="none" stroke="#2a6" stroke-width="2" points=""/></svg>
    <svg id="chart-p99" width="600" height="120"><polyline fill="none" stroke="#c62" stroke-width="2" points=""/></svg>
    <h2>Nodes</h2><table id="nodes"><tr><th>node</th><th>address</th><th>zone</th><th>state</th><th>leads</th><th>ops/s</th><th>CPU</th><th>memory (RSS)</th><th>clients</th><th>keys led</th></tr></table>
    <h2>Shards</h2><table id="shards"><tr><th>shard</th><th>slots</th><th>leader</th><th>replicas</th></tr></table>
    <h2>Events seen by this page</h2><pre id="events"></pre>
    <script>
    "use strict";
    const colours = ["#4e79a7","#f28e2b","#e15759","#76b7b2","#59a14f","#edc948","#b07aa1","#ff9da7","#9c755f","#bab0ac"];
    const history = [], clusterHistory = []; let last = null, lastCluster = null, lastNodes = new Map(), nodeRates = new Map();
    const $ = id => document.getElementById(id);
    function event(text) {
      const line = new Date().toLocaleTimeString() + "  " + text + "\n";
      $("events").textContent = (line + $("events").textContent).slice(0, 20000);
    }
    function colour(node) { return node == null ? "#ccc" : colours[(node - 1) % colours.length]; }
    function row(table, cells) {
      const tr = document.createElement("tr");
      for (const cell of cells) { const td = document.createElement("td"); td.textContent = cell; tr.appendChild(td); }
      table.appendChild(tr);
    }
    function clearTable(table) { while (table.rows.length > 1) table.deleteRow(1); }
    function p99(now, before) {
      const buckets = now.latency_buckets, old = before ? before.latency_buckets : null;
      const delta = buckets.map((b, i) => [b[0], b[1] - (old ? old[i][1] : 0)]);
      const total = delta[delta.length - 1][1];
      if (total <= 0) return null;
      for (const [bound, count] of delta) if (count >= 0.99 * total) return bound == null ? null : bound * 1000;
      return null;
    }
    function draw(id, values) {
      const svg = $(id), width = 600, height = 120, max = Math.max(1e-9, ...values);
      const points = values.map((v, i) => (i * width / 299).toFixed(1) + "," + (height - 4 - v / max * (height - 8)).toFixed(1));
      svg.querySelector("polyline").setAttribute("points", points.join(" "));
    }
    function showCluster(c) {
      $("node-id").textContent = c.node;
      if (!c.nodes) { $("ready-state").textContent = "not in a cluster yet"; return; }
      $("node-count").textContent = c.nodes.length;
      $("shard-count").textContent = c.shards.length;
      $("ready-state").textContent = c.ready ? "ready" : "not ready";
      $("ready-state").className = c.ready ? "" : "bad";
      clearTable($("nodes"));
      for (const n of c.nodes) {
        const r = nodeRates.get(n.id);
        row($("nodes"), ["n" + n.id, n.host + ":" + n.port, n.zone || "-", n.state, n.leads,
                         r ? Math.round(r.ops) : "-", r ? r.cpu.toFixed(0) + "%" : "-", r ? (r.rss / 1048576).toFixed(0) + " MiB" : "-",
                         r ? r.clients : "-", r ? r.keys : "-"]);
        $("nodes").rows[$("nodes").rows.length - 1].id = "node-row-" + n.id;
      }
      clearTable($("shards"));
      const map = $("slotmap"); map.textContent = "";
      const ranges = [];
      for (const s of c.shards) {
        row($("shards"), ["s" + s.id, s.slots.map(r => r[0] + "-" + r[1]).join(" "), s.leader == null ? "none" : "n" + s.leader,
                          s.replicas.map(r => "n" + r).join(" ")]);
        for (const r of s.slots) ranges.push([r[0], r[1], s]);
      }
      ranges.sort((a, b) => a[0] - b[0]);
      for (const [first, lastSlot, s] of ranges) {
        const div = document.createElement("div");
        div.style.width = ((lastSlot - first + 1) / 16384 * 100) + "%";
        div.style.background = colour(s.leader);
        div.title = "s" + s.id + " slots " + first + "-" + lastSlot + " leader " + (s.leader == null ? "none" : "n" + s.leader);
        map.appendChild(div);
      }
      $("legend").innerHTML = "";
      for (const n of c.nodes) {
        const item = document.createElement("span"); item.style.background = colour(n.id);
        $("legend").appendChild(item); $("legend").appendChild(document.createTextNode("n" + n.id));
      }
      if (lastCluster && lastCluster.shards) {
        const before = new Map(lastCluster.shards.map(s => [s.id, s]));
        for (const s of c.shards) {
          const old = before.get(s.id);
          if (!old) event("shard s" + s.id + " appeared (split)");
          else if (old.leader !== s.leader) event("shard s" + s.id + " leader " + (old.leader == null ? "none" : "n" + old.leader) + " → " + (s.leader == null ? "none" : "n" + s.leader));
        }
        for (const s of lastCluster.shards) if (!c.shards.some(x => x.id === s.id)) event("shard s" + s.id + " gone (merged)");
        const ids = new Set(c.nodes.map(n => n.id)), oldIds = new Set(lastCluster.nodes.map(n => n.id));
        for (const id of ids) if (!oldIds.has(id)) event("node n" + id + " joined");
        for (const id of oldIds) if (!ids.has(id)) event("node n" + id + " left");
        if (lastCluster.ready !== c.ready) event(c.ready ? "node became ready" : "node not ready");
      } else event("watching node " + c.node + ": " + c.nodes.length + " nodes, " + c.shards.length + " shards");
      lastCluster = c;
    }
    function showStats(s) {
      if (last && s.time_ms > last.time_ms) {
        const seconds = (s.time_ms - last.time_ms) / 1000;
        const ops = (s.commands - last.commands) / seconds;
        const cpu = (s.cpu_seconds - last.cpu_seconds) / seconds * 100;
        const latency = p99(s, last);
        $("ops").textContent = Math.round(ops);
        $("cpu").textContent = cpu.toFixed(0) + "%";
        $("p99").textContent = latency == null ? "-" : latency < 1 ? latency.toFixed(2) + " ms" : latency.toFixed(1) + " ms";
        history.push([ops, latency || 0]);
        if (history.length > 300) history.shift();
        draw("chart-ops", history.map(h => h[0]));
        draw("chart-p99", history.map(h => h[1]));
      }
      $("memory").textContent = (s.rss_bytes / 1048576).toFixed(0) + " MiB";
      $("keys").textContent = s.keys;
      $("clients").textContent = s.clients;
      last = s;
    }
    function showNodes(figures) {
      let total = 0, known = 0;
      for (const f of figures) {
        const before = lastNodes.get(f.node);
        const rate = { ops: 0, cpu: 0, rss: f.rss_bytes, clients: f.clients, keys: f.keys };
        if (before && f.time_ms > before.time_ms) {
          const seconds = (f.time_ms - before.time_ms) / 1000;
          rate.ops = (f.commands - before.commands) / seconds;
          rate.cpu = (f.cpu_seconds - before.cpu_seconds) / seconds * 100;
          total += rate.ops; known++;
        }
        nodeRates.set(f.node, rate);
        lastNodes.set(f.node, f);
      }
      if (known > 0) {
        $("cluster-ops").textContent = Math.round(total);
        clusterHistory.push(total);
        if (clusterHistory.length > 300) clusterHistory.shift();
        draw("chart-cluster-ops", clusterHistory);
      }
    }
    async function poll() {
      try {
        const [cluster, stats, nodes] = await Promise.all([fetch("/cluster").then(r => r.json()), fetch("/stats").then(r => r.json()),
                                                          fetch("/nodes").then(r => r.json())]);
        showNodes(nodes); showCluster(cluster); showStats(stats);
      } catch (error) {
        $("ready-state").textContent = "unreachable"; $("ready-state").className = "bad";
      }
    }
    poll(); setInterval(poll, 1000);
    </script></body></html>
    """#
}
