extension ZoneViewPage {
    /// The page's script: reads `/v1/zone-view/stream` with `fetch` (so that the read token
    /// goes as a header, never in a URL), draws the snapshot once per revision and then
    /// changes only the cells a delta names. Every text from the zone goes in as text, never as markup.
    static let script = #"""
        "use strict";
        const $ = (id) => document.getElementById(id);
        const STATES = { n: "never seen", d: "discovering", l: "leased", g: "booting", b: "booted", m: "miscabled",
                         r: "replaced", x: "lapsed" };
        let cells = [], codes = [], layout = null, selected = -1, byName = new Map();

        function auth() {
          const token = sessionStorage.getItem("zoneboot-read-token");
          return token ? { Authorization: "Bearer " + token } : {};
        }
        function esc(text) {
          return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
        }
        function when(seconds) { return new Date(seconds * 1000).toISOString().replace(".000", ""); }

        function askForToken(message) {
          $("login").hidden = false;
          $("login-error").textContent = message || "";
          $("live").textContent = "needs a token";
        }
        $("login").addEventListener("submit", (event) => {
          event.preventDefault();
          sessionStorage.setItem("zoneboot-read-token", $("token").value.trim());
          $("token").value = "";
          $("login").hidden = true;
          connect();
        });

        // Racks as columns of units (the highest unit on top, as in a rack), per pod; switches above.
        function draw(snapshot) {
          layout = snapshot.layout;
          codes = snapshot.states.split("");
          const pods = layout.pods.map((name) => ({ name, racks: new Map(), switches: [] }));
          layout.names.forEach((name, i) => {
            const pod = pods[layout.pod[i]];
            if (!layout.rack[i]) { pod.switches.push(i); return; }
            if (!pod.racks.has(layout.rack[i])) pod.racks.set(layout.rack[i], new Map());
            const units = pod.racks.get(layout.rack[i]);
            if (!units.has(layout.unit[i])) units.set(layout.unit[i], []);
            units.get(layout.unit[i]).push(i);
          });
          const cell = (i) => `<i class="s-${codes[i]}" data-i="${i}" data-name="${esc(layout.names[i])}"></i>`;
          const html = [];
          for (const pod of pods) {
            html.push(`<div class="pod"><h2>${esc(pod.name)}</h2>`);
            if (pod.switches.length) html.push(`<div class="switches">${pod.switches.map(cell).join("")}</div>`);
            html.push('<div class="racks">');
            for (const [rack, units] of [...pod.racks].sort((a, b) => a[0] - b[0])) {
              html.push(`<div class="rack" title="rack ${rack}">`);
              for (const [, members] of [...units].sort((a, b) => b[0] - a[0])) {
                members.sort((a, b) => layout.kinds[b].localeCompare(layout.kinds[a]));  // the host, then its BMC
                html.push(`<div class="u">${members.map(cell).join("")}</div>`);
              }
              html.push(`<span>${rack}</span></div>`);
            }
            html.push("</div></div>");
          }
          $("zone").innerHTML = html.join("");
          cells = new Array(codes.length);
          byName = new Map();
          for (const element of $("zone").querySelectorAll("i")) {
            const i = +element.dataset.i;
            cells[i] = element;
            byName.set(layout.names[i], i);
          }
          $("zone-name").textContent = layout.zone;
          const r = snapshot.revision;
          $("revision").textContent = `revision ${r.id} by ${r.author}, ${r.created_at}: ${r.summary}` +
            ` · ${snapshot.identities.toLocaleString()} locations`;
          renderApplies(snapshot.applies);
          countStates();
          if (selected >= 0) select(byName.get(selectedName) ?? -1);
          document.body.dataset.revision = r.id;
          // Milliseconds from the navigation to the first drawing (bench/zone_view_bench.py reads it).
          if (!document.body.dataset.readyMs) document.body.dataset.readyMs = Math.round(performance.now());
          document.body.dataset.ready = "1";
        }

        function countStates() {
          const counts = {};
          for (const code of codes) counts[code] = (counts[code] || 0) + 1;
          $("legend").innerHTML = Object.entries(STATES).map(([code, name]) =>
            `<li data-state="${code}"><span class="chip s-${code}"></span>${name} <b>${(counts[code] || 0).toLocaleString()}</b></li>`).join("");
        }

        function apply(delta) {
          for (const [i, code] of delta.changes) {
            codes[i] = code;
            if (cells[i]) cells[i].className = "s-" + code + (i === selected ? " sel" : "");
            if (i === selected) select(i);
          }
          countStates();
        }

        let applies = [];
        function renderApplies(list) { applies = list || []; if (selected < 0) showApplies(); }
        function showApplies() {
          $("panel").innerHTML = '<p class="hint">Select a location to see its identity, lease, device and boot.</p>' +
            "<h3>Recent applies</h3>" + (applies.length ? "<ol class=\"timeline\">" + applies.map((a) =>
              `<li><span class="t">#${a.id} ${esc(a.created_at)}</span><span>${esc(a.author)}: ${esc(a.summary)}` +
              `${a.message ? " — " + esc(a.message) : ""}</span><span>${esc(a.origin || "")}</span></li>`).join("") + "</ol>"
              : '<p class="none">none</p>');
        }

        let selectedName = null;
        async function select(i) {
          if (selected >= 0 && cells[selected]) cells[selected].classList.remove("sel");
          selected = i;
          if (i < 0) { selectedName = null; showApplies(); return; }
          selectedName = layout.names[i];
          cells[i].classList.add("sel");
          const answer = await fetch("/v1/zone-view/hosts/" + encodeURIComponent(selectedName), { headers: auth() });
          if (!answer.ok || selected !== i) return;
          showHost(await answer.json());
        }

        function showHost(h) {
          const id = h.identity, lease = h.lease;
          const rows = (pairs) => "<dl>" + pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
            .map(([k, v]) => `<dt>${k}</dt><dd>${esc(v)}</dd>`).join("") + "</dl>";
          const code = Object.keys(STATES).find((c) => STATES[c] === h.state.replace("-", " ")) || "n";
          let html = `<h2>${esc(id.name)}</h2><span class="badge s-${code}" id="host-state">${esc(h.state)}</span>`;
          html += "<h3>Identity</h3>" + rows([["kind", id.kind], ["location", id.location], ["rack / unit",
            id.rack ? `${id.rack} / ${id.unit ?? "-"}` : ""], ["address", id.address], ["fqdn", id.fqdn], ["role", id.role],
            ["profile", id.profile], ["network", id.network], ["manages", id.managed_host]]);
          html += "<h3>Lease</h3>" + (lease ? rows([["state", lease.state], ["mac", lease.mac], ["since", when(lease.updated_at)],
            ["expires", when(lease.expires_at)], ["replaced", h.replaced_mac]]) : '<p class="none">never leased</p>');
          html += "<h3>Device</h3>" + (lease && lease.device_kind ? rows([["kind", lease.device_kind], ["model", lease.model],
            ["serial", lease.serial], ["miscabled", lease.miscabled ? "yes: it does not fit the port's role" : ""]])
            : '<p class="none">nothing said</p>');
          html += "<h3>Boot timeline</h3>" + (h.timeline.length ? '<ol class="timeline">' + h.timeline.map((s) =>
            `<li data-phase="${esc(s.phase)}"><span>${esc(s.phase.replace("_", " "))}</span><span class="t">` +
            `${new Date(s.at_ms).toISOString().slice(11, 23)}</span><span>${s.seconds == null ? "" : "+" + s.seconds.toFixed(1) + " s"}</span></li>`)
            .join("") + "</ol>" : '<p class="none">no boot seen since the server started</p>');
          html += "<h3>Last events</h3>" + (h.events.length ? '<ol class="timeline">' + h.events.map((s) =>
            `<li><span>${esc(s.phase.replace("_", " "))}</span><span class="t">${new Date(s.at_ms).toISOString().slice(11, 19)}</span>` +
            `<span>${esc(s.detail)}</span></li>`).join("") + "</ol>" : '<p class="none">none</p>');
          $("panel").innerHTML = html;
        }

        $("zone").addEventListener("click", (event) => {
          if (event.target.dataset && event.target.dataset.i !== undefined) select(+event.target.dataset.i);
        });
        $("search").addEventListener("change", () => {
          const i = byName.get($("search").value.trim());
          if (i !== undefined) { select(i); cells[i].scrollIntoView({ block: "center" }); }
        });

        // The stream: `event:` and `data:` lines, blocks separated by a blank line (server-sent events).
        async function connect() {
          let answer;
          try {
            answer = await fetch("/v1/zone-view/stream", { headers: auth(), cache: "no-store" });
          } catch (error) { return retry(); }
          if (answer.status === 401 || answer.status === 403) {
            const body = await answer.json().catch(() => ({}));
            return askForToken(sessionStorage.getItem("zoneboot-read-token") ? body.error : "");
          }
          if (!answer.ok || !answer.body) return retry();
          $("live").textContent = "live";
          $("live").classList.add("on");
          const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              buffer += value;
              let end;
              while ((end = buffer.indexOf("\n\n")) >= 0) {
                const block = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                let type = "message", data = "";
                for (const line of block.split("\n")) {
                  if (line.startsWith("event: ")) type = line.slice(7);
                  else if (line.startsWith("data: ")) data += line.slice(6);
                }
                if (type === "snapshot") draw(JSON.parse(data));
                else if (type === "delta") apply(JSON.parse(data));
              }
            }
          } catch (error) { /* the connection broke: reconnect */ }
          retry();
        }
        function retry() {
          $("live").textContent = "reconnecting";
          $("live").classList.remove("on");
          setTimeout(connect, 1000);
        }
        connect();
        """#
}
