import AdminAPI
import Boot
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import Store

/// The live zone view (ZoneView/ZoneViewPage.swift).
///
/// - `GET /zone`, `/zone/view.js`, `/zone/view.css`: the page, open: it holds no zone data.
///   Its script asks for a read token when the API says 401 and keeps it in the tab's
///   `sessionStorage`, sending it as `Authorization: Bearer` (never in a URL, so never in a
///   log, the browser's history or a Referer).
/// - `GET /v1/zone-view` (a read): the snapshot, `ZoneViewSnapshot`.
/// - `GET /v1/zone-view/stream` (a read): server-sent events, read by the page through
///   `fetch` (EventSource cannot send a header): `snapshot` first and whenever the running
///   revision changes, then `delta`s of the states that changed (`{"changes":[[index,"code"]]}`),
///   a comment every 10 s when nothing did. A stream ends after `streamLifetime` (the page
///   reconnects) and at shutdown.
/// - `GET /v1/zone-view/hosts/<name>` (a read): one location's side panel, `ZoneViewHost`.
func addZoneViewRoutes(to router: Router<AdminRequestContext>, reads: RouterGroup<AdminRequestContext>,
                       administrator: ZoneAdministrator, feed: ZoneViewFeed) {
    router.get("/zone") { _, _ in ZoneViewPage.response(ZoneViewPage.html, type: "text/html; charset=utf-8") }
    router.get("/zone/view.js") { _, _ in ZoneViewPage.response(ZoneViewPage.script, type: "text/javascript; charset=utf-8") }
    router.get("/zone/view.css") { _, _ in ZoneViewPage.response(ZoneViewPage.style, type: "text/css; charset=utf-8") }
    reads.get("/v1/zone-view") { _, _ in
        json(await ZoneViewSnapshot(feed.frame(), administrator: administrator))
    }
    reads.get("/v1/zone-view/hosts/:name") { _, context in
        let name = try context.parameters.require("name")
        guard let host = feed.host(named: name) else {
            throw AdminHTTPError(.notFound, APIError(error: "the running revision has no location named \(name)"))
        }
        return json(host)
    }
    reads.get("/v1/zone-view/stream") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                 body: ResponseBody { writer in
                     try await streamZoneView(to: &writer, feed: feed, administrator: administrator)
                     try await writer.finish(nil)
                 })
    }
}

/// How long one stream runs before the page reconnects: a bound on what a forgotten tab holds.
let streamLifetime: Duration = .seconds(600)

private func streamZoneView(to writer: inout any ResponseBodyWriter, feed: ZoneViewFeed,
                            administrator: ZoneAdministrator) async throws {
    let clock = ContinuousClock(), ends = clock.now + streamLifetime
    var sent: ZoneViewFeed.Frame?
    var quietSince = clock.now
    while clock.now < ends, !Task.isCancelled, !Task.isShuttingDownGracefully {
        let frame = feed.frame()
        var event: String?
        if sent?.instance != frame.instance {
            event = "event: snapshot\ndata: \(jsonText(await ZoneViewSnapshot(frame, administrator: administrator)))\n\n"
        } else if let old = sent, let changes = ZoneViewLayout.changes(from: old.states, to: frame.states), !changes.isEmpty {
            event = "event: delta\ndata: {\"changes\":[\(changes.map { "[\($0.index),\"\($0.code)\"]" }.joined(separator: ","))]}\n\n"
        } else if clock.now - quietSince > .seconds(10) {
            event = ": nothing changed\n\n"
        }
        if let event {
            try await writer.write(ByteBuffer(string: event))
            sent = frame
            quietSince = clock.now
        }
        try await Task.sleep(for: .milliseconds(250))
    }
}

/// `GET /v1/zone-view` and the stream's `snapshot` event: the layout, every state, the
/// running revision and the latest applies.
struct ZoneViewSnapshot: Codable, Sendable {
    var layout: ZoneViewLayout
    /// One `LocationState.code` per identity, in the layout's order.
    var states: String
    /// Each code's state name, for the legend.
    var legend: [String: String]
    var revision: RevisionSummary
    var identities: Int
    /// The newest first (empty when the store cannot be read now).
    var applies: [RevisionSummary]

    init(_ frame: ZoneViewFeed.Frame, administrator: ZoneAdministrator) async {
        layout = frame.layout
        states = ZoneViewLayout.codes(frame.states)
        legend = Dictionary(uniqueKeysWithValues: LocationState.allCases.map { (String($0.code), $0.rawValue) })
        let running = await administrator.current
        revision = running.revision
        identities = running.identities
        applies = (try? await administrator.history(limit: 8)) ?? []
    }
}

private func jsonText(_ value: some Encodable) -> String {
    (try? JSONStyle.encoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"error":"cannot encode"}"#
}
