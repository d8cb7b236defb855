import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The HTTP client hooks use: webhooks, and redfish-register with `tls: verify`. It always
/// verifies certificates against the system's CAs: `accept-self-signed` is for BMCs only, whose
/// certificates are pinned instead (PinnedHTTPS), and a webhook that asks for it is refused
/// when the zone is validated; a revision stored before that rule gets the check all the same.
public final class HookHTTPClients: Sendable {
    let verifying: HTTPClient

    public init() {
        var configuration = HTTPClient.Configuration(tlsConfiguration: TLSConfiguration.makeClientConfiguration())
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        verifying = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await verifying.shutdown()
    }
}

struct HookHTTPError: Error, CustomStringConvertible {
    var description: String
}

extension HTTPClient {
    /// One request with a JSON body (or none); the response's status and up to 1 MiB of its body.
    func json(_ method: HTTPMethod, _ url: String, body: [UInt8]? = nil, headers: [(String, String)] = [],
              timeoutSeconds: Int) async throws -> (status: UInt, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await execute(request, timeout: .seconds(Int64(timeoutSeconds)))
        var body: [UInt8] = []
        do {
            for try await chunk in response.body {
                body += chunk.readableBytesView
                guard body.count <= 1 << 20 else { throw HookHTTPError(description: "\(method) \(url): response over 1 MiB") }
            }
        } catch let error as NIOSSLError where error == .uncleanShutdown {
            // Embedded web servers (BMCs, Python's http.server) often end a response without
            // Content-Length by closing TCP without TLS close_notify. Such a body could be
            // truncated, so it is only handed on as possibly short: JSON readers check it parses.
            return (response.status.code, body)
        } catch let error as HTTPClientError where error == .uncleanShutdown {
            return (response.status.code, body)
        }
        return (response.status.code, body)
    }
}

/// POSTs the event to the hook's URL; any 2xx is a delivery.
enum Webhook {
    static func post(_ url: String, payload: HookPayloadBytes, client: HTTPClient, timeoutSeconds: Int) async -> String? {
        do {
            let (status, _) = try await client.json(.POST, url, body: payload.json, headers: [
                ("ZoneBoot-Event", payload.type), ("ZoneBoot-Event-Id", String(payload.id)),
                ("Idempotency-Key", "zoneboot-event-\(payload.id)"),
            ], timeoutSeconds: timeoutSeconds)
            return (200..<300).contains(status) ? nil : "HTTP \(status)"
        } catch {
            return "\(error)"
        }
    }
}

/// The parts of a payload the HTTP hooks need, with its JSON already encoded.
struct HookPayloadBytes: Sendable {
    var id: Int64
    var type: String
    var json: [UInt8]
}
