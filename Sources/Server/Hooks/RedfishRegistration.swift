import AsyncHTTPClient
import Boot
import Foundation
import Logging
import NIOHTTP1
import Store
import Zone

/// A Redfish account from a secrets file. The file must be readable by its owner only,
/// and its contents never appear in a log or an error.
struct RedfishCredentials: Sendable {
    let username: String
    let password: String

    enum Problem: Error, CustomStringConvertible {
        case unreadable(String)
        case tooOpen(String, mode: UInt32)
        case malformed(String)

        var description: String {
            switch self {
            case .unreadable(let path): "credentials \(path) cannot be read"
            case .tooOpen(let path, let mode):
                "credentials \(path) have mode \(String(mode, radix: 8)): refused, give them mode 0600"
            case .malformed(let path): "credentials \(path) are not JSON with string fields username and password"
            }
        }
    }

    static func load(path: String) throws(Problem) -> RedfishCredentials {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .unreadable(path) }
        let mode = UInt32(info.st_mode) & 0o777
        // Group or others may not read it: a secrets file that anyone can read is a leak already.
        guard mode & 0o077 == 0 else { throw .tooOpen(path, mode: mode) }
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path) }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let username = object["username"] as? String, let password = object["password"] as? String
        else { throw .malformed(path) }
        return RedfishCredentials(username: username, password: password)
    }

    var authorization: String { "Basic " + Data("\(username):\(password)".utf8).base64EncodedString() }
}

/// The BMC refused the account's password (HTTP 401): it may have another (its own, or the
/// shared one after a reset).
struct RedfishUnauthorized: Error, CustomStringConvertible {
    var path: String
    var description: String { "GET \(path): HTTP 401 (the password was refused)" }
}

/// The built-in `redfish-register` hook: over the BMC's Redfish service, set its hostname
/// to its zone name and read what it manages (serial, model, firmware).
struct RedfishRegistration {
    let transport: any RedfishTransport
    let credentials: RedfishCredentials
    let timeoutSeconds: Int

    /// Throws on anything short of a registration (connection refused while the BMC still
    /// boots, an error status): the runner tries again with backoff.
    func register(hostname: String) async throws -> BMCFacts {
        let root = try await get("/redfish/v1/")
        let system = try await firstMember(of: try link(root, "Systems"), what: "Systems")
        let manager = try await firstMember(of: try link(root, "Managers"), what: "Managers")
        // The BMC's own hostname lives on its network interface (Manager.EthernetInterfaces);
        // a BMC that lists none takes it on the Manager.
        let patch = Array(#"{"HostName":\#(quoted(hostname))}"#.utf8)
        if let interfaces = try link(manager.object, "EthernetInterfaces") {
            let interface = try await firstMember(of: interfaces, what: "the manager's EthernetInterfaces")
            try await send(.PATCH, interface.path, patch)
        } else {
            try await send(.PATCH, manager.path, patch)
        }
        return BMCFacts(manufacturer: system.object["Manufacturer"] as? String, model: system.object["Model"] as? String,
                        serial: system.object["SerialNumber"] as? String, biosVersion: system.object["BiosVersion"] as? String,
                        bmcFirmware: manager.object["FirmwareVersion"] as? String)
    }

    /// Sets the password of the account named `username` (AccountService, its Accounts
    /// collection, the member with that UserName) to `password`.
    func setPassword(username: String, to password: String) async throws {
        let root = try await get("/redfish/v1/")
        guard let service = try link(root, "AccountService") else {
            throw HookHTTPError(description: "the service lists no AccountService: its password cannot be set")
        }
        guard let accounts = try link(try await get(service), "Accounts") else {
            throw HookHTTPError(description: "\(service) lists no Accounts: the password cannot be set")
        }
        let members = try await get(accounts)["Members"] as? [[String: Any]] ?? []
        // Bounded: a service that lists thousands of accounts is not searched through.
        for member in members.prefix(64) {
            guard let id = member["@odata.id"] as? String else { continue }
            let path = try onService(id, what: "an account")
            guard try await get(path)["UserName"] as? String == username else { continue }
            try await send(.PATCH, path, Array(#"{"Password":\#(quoted(password))}"#.utf8))
            return
        }
        throw HookHTTPError(description: "\(accounts) has no account \(username.debugDescription): its password cannot be set")
    }

    // Every path here is the fixed service root or one `RedfishPath.onService` accepted: the
    // transport sends it to the BMC's own address, never to a host a response names.
    private func get(_ path: String) async throws -> [String: Any] {
        let (status, body) = try await transport.exchange(.GET, path, body: nil,
                                                          headers: [("Authorization", credentials.authorization)],
                                                          timeoutSeconds: timeoutSeconds)
        if status == 401 { throw RedfishUnauthorized(path: path) }
        guard status == 200 else { throw HookHTTPError(description: "GET \(path): HTTP \(status)") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw HookHTTPError(description: "GET \(path): not a JSON object")
        }
        return object
    }

    private func send(_ method: HTTPMethod, _ path: String, _ body: [UInt8]) async throws {
        let (status, _) = try await transport.exchange(method, path, body: body,
                                                       headers: [("Authorization", credentials.authorization)],
                                                       timeoutSeconds: timeoutSeconds)
        guard (200..<300).contains(status) else { throw HookHTTPError(description: "\(method) \(path): HTTP \(status)") }
    }

    /// The `@odata.id` of `object[key]`, nil if there is none; a link off the service is an error.
    private func link(_ object: [String: Any], _ key: String) throws -> String? {
        guard let id = (object[key] as? [String: Any])?["@odata.id"] as? String else { return nil }
        return try onService(id, what: key)
    }

    /// The credentials go with every request: a path that would take them elsewhere is refused.
    private func onService(_ id: String, what: String) throws -> String {
        guard let path = RedfishPath.onService(id) else {
            throw HookHTTPError(description: "\(what) links off the service (\(id.debugDescription)): not followed")
        }
        return path
    }

    private func firstMember(of collection: String?, what: String) async throws -> (path: String, object: [String: Any]) {
        guard let collection else { throw HookHTTPError(description: "the service lists no \(what)") }
        let members = try await get(collection)["Members"] as? [[String: Any]] ?? []
        guard let id = members.first?["@odata.id"] as? String else {
            throw HookHTTPError(description: "\(collection) has no members")
        }
        let path = try onService(id, what: "\(collection)'s first member")
        return (path, try await get(path))
    }

    private func quoted(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(decoding: data, as: UTF8.self).dropFirst().dropLast().description
    }
}

/// One redfish-register run for a BMC that `RedfishEligibility` let through: the certificate
/// pin read and checked, the registration, and its record (or the refusal and its event).
struct BMCRegistrar {
    let inventory: any BMCInventory
    let http: HookHTTPClients
    let logger: Logger

    /// Nil when the BMC is registered, else why not: the runner tries again with backoff. A
    /// changed certificate fails every try (and raises its event once), so the event ends a
    /// dead letter: `zonectl bmcs forget NAME`, then `zonectl events retry ID`.
    func register(name: String, event: ZoneEvent, tls: HookTLS?, credentials shared: RedfishCredentials,
                  password: HookPassword?, stateDirectory: String, timeoutSeconds: Int) async -> String? {
        let address = event.address.description
        // accept-self-signed: the BMC's own certificate, pinned on first use, instead of a CA.
        let pinned: PinnedHTTPS?
        if tls == .acceptSelfSigned {
            do {
                pinned = PinnedHTTPS(address: address, pinned: try inventory.pinnedCertificate(name: name))
            } catch {
                return "cannot read the certificate pinned for \(name): \(error)"
            }
        } else {
            pinned = nil
        }
        let transport: any RedfishTransport
        if let pinned { transport = pinned } else { transport = VerifiedHTTPS(client: http.verifying, address: address) }
        return await register(name: name, event: event, over: transport, pinned: pinned, credentials: shared,
                              password: password, stateDirectory: stateDirectory, timeoutSeconds: timeoutSeconds)
    }

    /// The registration over `transport` (`pinned` where it is the pinned connection).
    func register(name: String, event: ZoneEvent, over transport: any RedfishTransport, pinned: PinnedHTTPS?,
                  credentials shared: RedfishCredentials, password: HookPassword?, stateDirectory: String,
                  timeoutSeconds: Int) async -> String? {
        let address = event.address.description
        let passwords = BMCPasswords(stateDirectory: stateDirectory)
        let saved: BMCPasswords.Entry?
        do {
            saved = try passwords.entry(name)
        } catch {
            return "\(error)"
        }
        // Its own password first where one was set (whatever the zone says now: the BMC has it),
        // then the shared one, which it has until it took its own, or again after a reset.
        var candidates: [(credentials: RedfishCredentials, own: Bool)] = []
        if let saved, saved.username == shared.username {
            candidates.append((RedfishCredentials(username: saved.username, password: saved.password), true))
        }
        candidates.append((shared, false))
        var registered: (facts: BMCFacts, registration: RedfishRegistration, own: Bool)?
        for (index, candidate) in candidates.enumerated() {
            let registration = RedfishRegistration(transport: transport, credentials: candidate.credentials,
                                                   timeoutSeconds: timeoutSeconds)
            do {
                registered = (try await registration.register(hostname: name), registration, candidate.own)
                break
            } catch is RedfishUnauthorized where index < candidates.count - 1 {
                continue
            } catch let changed as PinnedHTTPS.CertificateChanged {
                refused(name: name, event: event, changed)
                return "Redfish at \(address): \(changed); `zonectl bmcs forget \(name)` trusts the new one"
            } catch {
                // Connection refused while the BMC still boots, or an error status: tried again later.
                return "Redfish at \(address): \(error)"
            }
        }
        guard let registered else { return "Redfish at \(address): no password to try" }
        var ownPassword = registered.own
        do {
            if registered.own, saved?.state == .pending, let saved {
                // The BMC took the password a try that was cut short had set.
                try passwords.save(BMCPasswords.Entry(username: saved.username, password: saved.password, state: .current),
                                   for: name)
            } else if !registered.own, password == .rotate {
                try await rotate(name: name, registration: registered.registration, username: shared.username,
                                 saved: saved, passwords: passwords)
                ownPassword = true
            }
        } catch let changed as PinnedHTTPS.CertificateChanged {
            refused(name: name, event: event, changed)
            return "Redfish at \(address): \(changed); `zonectl bmcs forget \(name)` trusts the new one"
        } catch {
            return "Redfish at \(address): registered, but its password was not rotated: \(error)"
        }
        let found = registered.facts
        let now = Int64(Date().timeIntervalSince1970)
        let discovered = HookEvents.bmcDiscovered(after: event, name: name, facts: found, at: now)
        do {
            try inventory.record(BMCRecord(name: name, address: address, mac: event.mac, hostname: name,
                                           manufacturer: found.manufacturer, model: found.model, serial: found.serial,
                                           biosVersion: found.biosVersion, bmcFirmware: found.bmcFirmware,
                                           registeredAt: now, certificateSHA256: pinned?.fingerprint,
                                           ownPassword: ownPassword),
                                 event: discovered)
        } catch {
            return "BMC \(name) registered, but its record cannot be written: \(error)"
        }
        logger.info("BMC \(name) registered over Redfish at \(address)",
                    metadata: ["serial": "\(found.serial ?? "-")", "model": "\(found.model ?? "-")",
                               "certificate_sha256": "\(pinned?.fingerprint ?? "CA-verified")",
                               "password": "\(ownPassword ? "its own" : "shared")"])
        return nil
    }

    /// Gives the BMC a password of its own. Written (pending) before the BMC is asked to take
    /// it, confirmed after: a stop in between leaves both passwords to try next time, and a
    /// pending one is offered again rather than a third.
    private func rotate(name: String, registration: RedfishRegistration, username: String, saved: BMCPasswords.Entry?,
                        passwords: BMCPasswords) async throws {
        let pending = saved.flatMap { $0.state == .pending && $0.username == username ? $0.password : nil }
        let password = pending ?? BMCPasswords.generate()
        try passwords.save(BMCPasswords.Entry(username: username, password: password, state: .pending), for: name)
        try await registration.setPassword(username: username, to: password)
        try passwords.save(BMCPasswords.Entry(username: username, password: password, state: .current), for: name)
        logger.notice("BMC \(name): the password of its account \(username) was replaced by one of its own",
                      metadata: ["kept_in": "\(passwords.folder)/\(name).json"])
    }

    private func refused(name: String, event: ZoneEvent, _ changed: PinnedHTTPS.CertificateChanged) {
        let now = Int64(Date().timeIntervalSince1970)
        let raised = HookEvents.bmcCertificateChanged(after: event, name: name, pinned: changed.pinned,
                                                      presented: changed.presented, at: now)
        do {
            if try inventory.refuse(name: name, presented: changed.presented, event: raised) {
                logger.error("""
                    BMC \(name) at \(event.address) presented another certificate than the one pinned at its first \
                    registration: refused, no credentials sent; if the BMC was replaced or re-keyed, \
                    `zonectl bmcs forget \(name)` trusts the certificate it presents next
                    """, metadata: ["pinned_sha256": "\(changed.pinned)", "presented_sha256": "\(changed.presented)"])
            }
        } catch {
            logger.error("hooks: cannot record the refused certificate of \(name): \(error)")
        }
    }
}
