import Hummingbird
import NIOCore

/// `GET /metrics`: Prometheus text format (`ServerMetrics.scrape`). Among the reads (a read
/// token, or a loopback client without a token file): lease counts per pod and drop reasons
/// tell an outsider what the zone is doing. Prometheus sends the token as
/// `authorization: {credentials_file: ...}`.
func addMetricsRoute(to reads: RouterGroup<AdminRequestContext>, metrics: ServerMetrics) {
    reads.get("/metrics") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: metrics.scrape())))
    }
}
