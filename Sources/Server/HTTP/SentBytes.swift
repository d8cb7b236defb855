import Hummingbird

/// Counts the body bytes of each successful boot HTTP answer by what was served
/// (`zoneboot_http_sent_bytes_total{outcome}`): loaders and files are most of a boot
/// storm's traffic. The length is the one announced (a range's for 206); HEAD sends none.
struct SentBytes<Context: PeerAddressRequestContext>: RouterMiddleware {
    let statistics: Counters<HTTPCounters>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        guard request.method != .head, response.status == .ok || response.status == .partialContent,
              let length = response.body.contentLength, length > 0 else { return response }
        let outcome = Self.outcome(path: request.uri.path)
        statistics.update { $0.sentBytes[outcome, default: 0] += length }
        return response
    }

    /// What a path serves, as the outcome label.
    static func outcome(path: String) -> String {
        for (prefix, outcome) in [("/loaders/", "loaders"), ("/files/", "files"), ("/hosts/", "host_files"),
                                  ("/ansible/", "handoff"), ("/chef/", "handoff"), ("/bootstrap/", "bootstrap")]
        where path.hasPrefix(prefix) {
            return outcome
        }
        return "other"
    }
}
