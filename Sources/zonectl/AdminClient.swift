import AdminAPI
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Where zonectl finds a running zonebootd's admin API, the token it presents, and how it
/// trusts an https:// server (and proves itself to one that asks for a client certificate).
struct ServerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A running zonebootd's admin API, e.g. \(AdminAPI.defaultURL), https://host:9067 or host:port.",
                               discussion: "Default: $ZONEBOOT_SERVER. Without a scheme, http:// is assumed."))
    var server: String?

    @Option(help: ArgumentHelp("File holding the bearer token (a `name:token` or `name:read:token` line, as in zonebootd's token file).",
                               discussion: "Default: $ZONEBOOT_TOKEN_FILE. Reads need a read or write token, apply and rollback a write token."))
    var tokenFile: String?

    @Option(help: ArgumentHelp("The CA certificate (PEM) that signed an https:// server's certificate.",
                               discussion: "Default: $ZONEBOOT_CA_FILE; without either, the system's trusted CAs."))
    var caFile: String?

    @Option(help: ArgumentHelp("A client certificate (PEM) for a server that requires one (mutual TLS).",
                               discussion: "Default: $ZONEBOOT_CLIENT_CERT. Goes with --client-key."))
    var clientCert: String?

    @Option(help: ArgumentHelp("The client certificate's private key (PEM).", discussion: "Default: $ZONEBOOT_CLIENT_KEY."))
    var clientKey: String?

    /// The server named by --server or $ZONEBOOT_SERVER (`host:port` taken as http://); nil means
    /// work offline on the state directory.
    var explicitURL: String? { (server ?? environment("ZONEBOOT_SERVER")).map(Self.url(from:)) }

    /// For commands that read a server or a state directory: --server, else (unless --state was
    /// given: an explicit directory beats the environment) $ZONEBOOT_SERVER; nil means the directory.
    func explicitURL(unlessLocal state: StateOptions) -> String? {
        if let server { return Self.url(from: server) }
        return state.state == nil ? explicitURL : nil
    }

    /// For commands that only make sense against a server: the local one by default.
    var url: String { explicitURL ?? AdminAPI.defaultURL }

    func client(_ url: String) -> AdminClient {
        AdminClient(base: url, tokenFile: tokenFile ?? environment("ZONEBOOT_TOKEN_FILE"),
                    caFile: caFile ?? environment("ZONEBOOT_CA_FILE"),
                    clientCertificate: clientCert ?? environment("ZONEBOOT_CLIENT_CERT"),
                    clientKey: clientKey ?? environment("ZONEBOOT_CLIENT_KEY"))
    }

    /// `host:port` and `host` mean http://; anything with a scheme is taken as written.
    static func url(from text: String) -> String { text.contains("://") ? text : "http://" + text }

    private func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// A small blocking JSON client for the admin API: zonectl is a one-shot CLI.
struct AdminClient {
    let base: String
    let tokenFile: String?
    var caFile: String?
    var clientCertificate: String?
    var clientKey: String?

    struct Answer {
        var status: Int
        var body: Data
    }

    /// A read: sends the token when one is configured (a server with a token file needs one).
    func get<T: Decodable>(_ path: String, as type: T.Type) throws -> T {
        try decode(try send("GET", path, body: nil, authenticated: false), path: path, as: type)
    }

    /// `authenticated`: a write, which cannot go without a token; otherwise the token goes when configured.
    func post<T: Decodable>(_ path: String, _ body: some Encodable, authenticated: Bool, as type: T.Type) throws -> T {
        try decode(try send("POST", path, body: try JSONStyle.encoder().encode(body), authenticated: authenticated), path: path,
                   as: type)
    }

    /// Success decodes as `T`; an API error is printed (a broken zone exactly as
    /// `zonectl validate` prints it) and exits 1.
    private func decode<T: Decodable>(_ answer: Answer, path: String, as type: T.Type) throws -> T {
        if (200..<300).contains(answer.status) {
            do { return try JSONStyle.decoder().decode(type, from: answer.body) } catch {
                throw fail("\(base) sent an answer zonectl does not understand: \(error)")
            }
        }
        guard let problem = try? JSONStyle.decoder().decode(APIError.self, from: answer.body) else {
            if answer.status == 404 {
                // The admin API answers its own 404s in its JSON; anything else is another server.
                throw fail("\(base) answered HTTP 404 for \(path): is this the admin port? zonebootd's admin API "
                           + "listens on --admin-port (\(AdminAPI.defaultPort) by default)")
            }
            throw fail("\(base) answered HTTP \(answer.status): "
                       + terminalEscaped(String(decoding: answer.body.prefix(500), as: UTF8.self)))
        }
        if let rendered = problem.rendered {
            // A zone that does not load: exactly what `zonectl validate` prints, and its exit status.
            printError(rendered, terminator: "")
            throw ExitCode.failure
        }
        if answer.status == 401, tokenFile == nil {
            throw fail("\(terminalEscaped(problem.error)) (HTTP 401): pass --token-file or set ZONEBOOT_TOKEN_FILE")
        }
        throw fail("\(terminalEscaped(problem.error)) (HTTP \(answer.status))")
    }

    /// The configured token; nil when none is configured and `required` is false.
    private func token(required: Bool) throws -> String? {
        guard let path = tokenFile else {
            guard !required else {
                throw fail("changing the zone needs a token: pass --token-file or set ZONEBOOT_TOKEN_FILE")
            }
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read the token file \(path)") }
        guard let token = AdminTokens.clientToken(in: String(decoding: data, as: UTF8.self)) else {
            throw fail("the token file \(path) holds no token")
        }
        return token
    }

    func send(_ method: String, _ path: String, body: Data?, authenticated: Bool) throws -> Answer {
        let target = base.hasSuffix("/") ? String(base.dropLast()) + path : base + path
        guard let url = URL(string: target), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              url.host != nil else {
            throw fail("--server \(base) is not a URL: give http://HOST:PORT, https://HOST:PORT or HOST:PORT")
        }
        var headers = HTTPHeaders()
        if body != nil { headers.add(name: "Content-Type", value: "application/json") }
        if let token = try token(required: authenticated) { headers.add(name: "Authorization", value: "Bearer \(token)") }
        var configuration = HTTPClient.Configuration(tlsConfiguration: try tlsConfiguration(),
                                                     timeout: .init(connect: .seconds(10), read: .seconds(120)))
        // One request from a CLI: a refused connection or a failed handshake is the answer, said at
        // once (retrying with backoff until the connect timeout only delays the same error).
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { try? client.syncShutdown() }
        do {
            let request = try HTTPClient.Request(url: target, method: .init(rawValue: method), headers: headers,
                                                 body: body.map { .bytes($0) })
            let response = try client.execute(request: request).wait()
            return Answer(status: Int(response.status.code), body: Data(response.body?.readableBytesView ?? .init()))
        } catch {
            throw fail(ConnectionFailure.explain(error, server: base, https: scheme == "https"))
        }
    }

    /// The system's trust, or --ca-file's CA alone; the client certificate when given. Files
    /// that cannot be read are named here, before any connection.
    private func tlsConfiguration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            do {
                let authorities = try NIOSSLCertificate.fromPEMFile(caFile)
                guard !authorities.isEmpty else { throw fail("the CA file \(caFile) holds no PEM certificate") }
                configuration.trustRoots = .certificates(authorities)
            } catch let exit as ExitCode { throw exit } catch {
                throw fail("cannot use the CA file \(caFile): \(error)")
            }
        }
        switch (clientCertificate, clientKey) {
        case (nil, nil): break
        case (let certificate?, let key?):
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            } catch {
                throw fail("cannot use the client certificate \(certificate) with the key \(key): \(error)")
            }
        default: throw fail("--client-cert and --client-key go together")
        }
        return configuration
    }
}

/// Why a connection to the admin API failed, in words that name the server and the fix.
enum ConnectionFailure {
    static func explain(_ error: any Error, server: String, https: Bool) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
            return "\(server) presented a TLS certificate zonectl does not trust (\(reason(text))): pass --ca-file "
                + "(or set ZONEBOOT_CA_FILE) with the CA that signed it"
        }
        if text.contains("failedToValidateHostname") || text.contains("Hostname") {
            return "the TLS certificate of \(server) does not name that host or address (\(reason(text))): connect by a "
                + "name or address its certificate lists"
        }
        if text.contains("WRONG_VERSION_NUMBER") {
            return "\(server) does not speak TLS (\(reason(text))): is it an http:// server?"
        }
        if text.contains("CERTIFICATE_REQUIRED") || text.contains("HANDSHAKE_FAILURE") || text.contains("alert") {
            return "\(server) refused the TLS connection (\(reason(text))): does it require a client certificate? "
                + "pass --client-cert and --client-key"
        }
        if !https, text.contains("remoteConnectionClosed") {
            return "\(server) closed the connection without an answer: does it speak https? try https:// in --server"
        }
        if text.contains("Connection refused") {
            return "cannot reach zonebootd at \(server): connection refused (is it running, with this --admin-port?)"
        }
        return "cannot reach zonebootd at \(server): \(reason(text))"
    }

    /// BoringSSL's reason codes, else the error's own text, on one line.
    private static func reason(_ text: String) -> String {
        let codes = ["CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "CERTIFICATE_REQUIRED", "HANDSHAKE_FAILURE",
                     "failedToValidateHostname"].filter { text.contains($0) }
        let found = codes.isEmpty ? text : codes.joined(separator: ", ")
        return terminalEscaped(String(found.prefix(300)))
    }
}
