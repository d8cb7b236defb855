import Hummingbird
import NIOCore

/// The zone view's page: plain HTML, CSS and a little JavaScript (ZoneViewScript.swift), held
/// in the binary so that nothing but zonebootd needs installing, and no build step exists.
enum ZoneViewPage {
    /// The page and its parts: scripts and styles only from this origin, no frames, no
    /// sniffing; the page holds no zone data, so it is served without a token.
    static func response(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [
            .contentType: type, .cacheControl: "no-cache",
            .contentSecurityPolicy: "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            .xContentTypeOptions: "nosniff",
        ], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>ZoneBoot zone view</title>
        <link rel="stylesheet" href="/zone/view.css">
        <script src="/zone/view.js" defer></script>
        </head>
        <body>
        <header>
          <h1>ZoneBoot <span id="zone-name"></span></h1>
          <div id="revision"></div>
          <input id="search" type="search" placeholder="find a host" aria-label="find a host" autocomplete="off">
          <span id="live" class="live">connecting</span>
        </header>
        <ul id="legend"></ul>
        <main>
          <section id="zone" aria-label="racks and units"></section>
          <aside id="panel"><p class="hint">Select a location to see its identity, lease, device and boot.</p></aside>
        </main>
        <form id="login" hidden>
          <h2>Read token</h2>
          <p>The admin API needs a read token. It stays in this tab only (sessionStorage) and is sent as a bearer header.</p>
          <input id="token" type="password" autocomplete="off" aria-label="read token">
          <button type="submit">Show the zone</button>
          <p id="login-error" class="error"></p>
        </form>
        </body>
        </html>
        """

    static let style = """
        :root { --n: #dde1e7; --d: #a78bfa; --l: #60a5fa; --g: #f59e0b; --b: #22c55e; --m: #ef4444; --r: #ec4899; --x: #8b95a5;
                font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933; }
        body { margin: 0; background: #f6f7f9; }
        header { display: flex; align-items: baseline; gap: 16px; padding: 10px 16px; background: #1f2933; color: #f6f7f9; }
        header h1 { font-size: 17px; margin: 0; font-weight: 600; }
        #zone-name { color: #9fb3c8; font-weight: 400; }
        #revision { flex: 1; color: #cbd2d9; }
        #search { padding: 4px 8px; border-radius: 4px; border: 0; width: 200px; }
        .live { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #52606d; }
        .live.on { background: #2f855a; }
        #legend { display: flex; flex-wrap: wrap; gap: 14px; list-style: none; margin: 0; padding: 8px 16px; background: #fff;
                  border-bottom: 1px solid #e4e7eb; }
        #legend li { display: flex; align-items: center; gap: 6px; }
        #legend b { font-variant-numeric: tabular-nums; }
        main { display: flex; align-items: flex-start; }
        #zone { flex: 1; display: flex; flex-wrap: wrap; gap: 12px; padding: 12px 16px; }
        .pod { background: #fff; border: 1px solid #e4e7eb; border-radius: 6px; padding: 6px 8px 8px; }
        .pod h2 { font-size: 13px; margin: 0 0 4px; }
        .racks { display: flex; gap: 5px; align-items: flex-end; }
        .rack { display: flex; flex-direction: column; gap: 1px; padding: 2px; background: #f0f2f5; border-radius: 3px; }
        .rack > span { font-size: 9px; color: #7b8794; text-align: center; }
        .u { display: flex; gap: 1px; }
        .switches { display: flex; gap: 2px; margin-bottom: 4px; }
        i { display: block; width: 9px; height: 7px; border-radius: 1px; cursor: pointer; background: var(--n); }
        .switches i { width: 14px; height: 9px; }
        i.sel { outline: 2px solid #1f2933; outline-offset: 1px; }
        i.hit { outline: 2px solid #d97706; outline-offset: 1px; }
        .s-n { background: var(--n); } .s-d { background: var(--d); } .s-l { background: var(--l); } .s-g { background: var(--g); }
        .s-b { background: var(--b); } .s-m { background: var(--m); } .s-r { background: var(--r); } .s-x { background: var(--x); }
        .chip { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
        #panel { width: 340px; flex: none; position: sticky; top: 0; max-height: 100vh; overflow: auto; box-sizing: border-box;
                 padding: 12px 16px; background: #fff; border-left: 1px solid #e4e7eb; min-height: 60vh; }
        #panel h2 { font-size: 15px; margin: 0 0 2px; word-break: break-all; }
        #panel h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #7b8794; margin: 14px 0 4px; }
        #panel dl { display: grid; grid-template-columns: 90px 1fr; gap: 2px 8px; margin: 0; }
        #panel dt { color: #7b8794; } #panel dd { margin: 0; word-break: break-all; }
        .badge { display: inline-block; padding: 1px 8px; border-radius: 9px; color: #fff; font-weight: 600; font-size: 12px; }
        .badge.s-n, .badge.s-x { color: #1f2933; }
        ol.timeline { list-style: none; padding: 0; margin: 0; }
        ol.timeline li { display: grid; grid-template-columns: 110px 1fr auto; gap: 6px; padding: 2px 0; border-bottom: 1px dotted #e4e7eb; }
        ol.timeline .t { color: #7b8794; font-variant-numeric: tabular-nums; }
        .hint, .none { color: #7b8794; }
        .error { color: #c53030; }
        #login { position: fixed; inset: 0; margin: auto; width: 340px; height: fit-content; padding: 20px; background: #fff;
                 border-radius: 8px; box-shadow: 0 10px 40px rgba(0,0,0,.3); }
        #login input { width: 100%; box-sizing: border-box; padding: 6px; margin-bottom: 8px; }
        """
}
