import ArgumentParser
import NIOCore
import Server

/// Deadlines and connection caps of the HTTP listeners (boot files and admin API alike;
/// each of the two has its own connection table).
struct HTTPLimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Seconds a new HTTP connection has to send its whole first request (head and body).",
                               discussion: "Cuts connections that send nothing or send a request a byte at a time."))
    var httpRequestTimeout: Double = 10

    @Option(help: "Seconds a kept-alive HTTP connection has, after an answer, to send its whole next request.")
    var httpIdleTimeout: Double = 15

    @Option(help: "Seconds an HTTP client may go without reading any of its answer before the connection is cut.")
    var httpSendTimeout: Double = 30

    @Option(help: ArgumentHelp("HTTP connections open at once per listener kind (boot, admin).",
                               discussion: "At the cap a new connection replaces the longest-idle one; it is refused only when all are busy."))
    var httpMaxConnections = 1024

    @Option(help: "HTTP connections open at once from one client address; more are closed at once.")
    var httpMaxConnectionsPerAddress = 64

    func validate() throws {
        for (flag, seconds) in [("--http-request-timeout", httpRequestTimeout), ("--http-idle-timeout", httpIdleTimeout),
                                ("--http-send-timeout", httpSendTimeout)] {
            guard seconds > 0, seconds <= 86_400 else { throw ValidationError("\(flag) must be more than 0 and at most 86400 seconds") }
        }
        guard httpMaxConnections >= 1 else { throw ValidationError("--http-max-connections must be at least 1") }
        guard httpMaxConnectionsPerAddress >= 1 else { throw ValidationError("--http-max-connections-per-address must be at least 1") }
    }

    var limits: HTTPConnectionLimits {
        func amount(_ seconds: Double) -> TimeAmount { .nanoseconds(Int64(seconds * 1_000_000_000)) }
        return HTTPConnectionLimits(requestTimeout: amount(httpRequestTimeout), idleTimeout: amount(httpIdleTimeout),
                                    sendTimeout: amount(httpSendTimeout), maxConnections: httpMaxConnections,
                                    maxConnectionsPerAddress: httpMaxConnectionsPerAddress)
    }
}

/// HTTPS on the admin API, and optionally mutual TLS.
struct AdminTLSOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The admin API's TLS certificate (PEM, the chain from the server's own first).",
                               discussion: "With --admin-tls-key the admin API speaks HTTPS only."))
    var adminTLSCert: String?

    @Option(help: ArgumentHelp("The admin API's TLS private key (PEM); mode 0600.",
                               discussion: "A regular file owned by the user running zonebootd (or root), like the token file."))
    var adminTLSKey: String?

    @Option(help: ArgumentHelp("Mutual TLS: only clients with a certificate this CA (PEM) signed may connect.",
                               discussion: "Tokens are still needed on top."))
    var adminTLSClientCA: String?

    func validate() throws {
        if (adminTLSCert == nil) != (adminTLSKey == nil) {
            throw ValidationError("--admin-tls-cert and --admin-tls-key go together")
        }
        if adminTLSClientCA != nil, adminTLSCert == nil {
            throw ValidationError("--admin-tls-client-ca needs --admin-tls-cert and --admin-tls-key")
        }
    }

    /// The files read and checked; nil without TLS.
    func load() throws(ListenerTLS.Problem) -> ListenerTLS? {
        guard let adminTLSCert, let adminTLSKey else { return nil }
        return try ListenerTLS(certificateFile: adminTLSCert, keyFile: adminTLSKey, clientCAFile: adminTLSClientCA)
    }
}
