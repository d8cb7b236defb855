import AdminAPI
import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// Where zonectl finds a running zonebootd's admin API, and the token that lets it change the zone.
struct ServerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A running zonebootd's admin API, e.g. \(AdminAPI.defaultURL).",
                               discussion: "Default: $ZONEBOOT_SERVER."))
    var server: String?

    @Option(help: ArgumentHelp("File holding the bearer token (a `name:token` line, as in zonebootd's token file).",
                               discussion: "Default: $ZONEBOOT_TOKEN_FILE."))
    var tokenFile: String?

    /// The server named by --server or $ZONEBOOT_SERVER; nil means work offline on the state directory.
    var explicitURL: String? { server ?? ProcessInfo.processInfo.environment["ZONEBOOT_SERVER"] }

    /// For commands that only make sense against a server: the local one by default.
    var url: String { explicitURL ?? AdminAPI.defaultURL }

    func client(_ url: String) -> AdminClient { AdminClient(base: url, tokenFile: tokenFile) }
}

/// A small blocking JSON client for the admin API: zonectl is a one-shot CLI.
struct AdminClient {
    let base: String
    let tokenFile: String?

    struct Answer {
        var status: Int
        var body: Data
    }

    func get<T: Decodable>(_ path: String, authenticated: Bool = false, as type: T.Type) throws -> T {
        try decode(try send("GET", path, body: nil, authenticated: authenticated), as: type)
    }

    func post<T: Decodable>(_ path: String, _ body: some Encodable, authenticated: Bool, as type: T.Type) throws -> T {
        try decode(try send("POST", path, body: try JSONEncoder().encode(body), authenticated: authenticated), as: type)
    }

    /// Success decodes as `T`; an API error is printed (a broken zone exactly as
    /// `zonectl validate` prints it) and exits 1.
    private func decode<T: Decodable>(_ answer: Answer, as type: T.Type) throws -> T {
        if (200..<300).contains(answer.status) {
            do { return try JSONDecoder().decode(type, from: answer.body) } catch {
                throw fail("\(base) sent an answer zonectl does not understand: \(error)")
            }
        }
        guard let problem = try? JSONDecoder().decode(APIError.self, from: answer.body) else {
            throw fail("\(base) answered HTTP \(answer.status): "
                       + terminalEscaped(String(decoding: answer.body.prefix(500), as: UTF8.self)))
        }
        if let rendered = problem.rendered {
            // A zone that does not load: exactly what `zonectl validate` prints, and its exit status.
            printError(rendered, terminator: "")
            throw ExitCode.failure
        }
        throw fail("\(terminalEscaped(problem.error)) (HTTP \(answer.status))")
    }

    private func token() throws -> String {
        guard let path = tokenFile ?? ProcessInfo.processInfo.environment["ZONEBOOT_TOKEN_FILE"] else {
            throw fail("changing the zone needs a token: pass --token-file or set ZONEBOOT_TOKEN_FILE")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read the token file \(path)") }
        guard let token = AdminTokens.clientToken(in: String(decoding: data, as: UTF8.self)) else {
            throw fail("the token file \(path) holds no token")
        }
        return token
    }

    func send(_ method: String, _ path: String, body: Data?, authenticated: Bool) throws -> Answer {
        guard let url = URL(string: base.hasSuffix("/") ? String(base.dropLast()) + path : base + path) else {
            throw fail("--server \(base) is not a URL")
        }
        var request = URLRequest(url: url, timeoutInterval: 120)
        request.httpMethod = method
        request.httpBody = body
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if authenticated { request.setValue("Bearer \(try token())", forHTTPHeaderField: "Authorization") }
        let result = Mutex<Result<Answer, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            let answer: Result<Answer, any Error>
            if let error {
                answer = .failure(error)
            } else {
                answer = .success(Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data ?? Data()))
            }
            result.withLock { $0 = answer }
            done.signal()
        }.resume()
        done.wait()
        switch result.withLock({ $0 }) {
        case .success(let answer)?: return answer
        case .failure(let error)?: throw fail("cannot reach zonebootd at \(base): \(error.localizedDescription)")
        case nil: throw fail("cannot reach zonebootd at \(base)")
        }
    }
}
