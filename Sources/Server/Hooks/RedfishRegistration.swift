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

    // Every path here is the fixed service root or one `RedfishPath.onService` accepted: the
    // transport sends it to the BMC's own address, never to a host a response names.
    private func get(_ path: String) async throws -> [String: Any] {
        let (status, body) = try await transport.exchange(.GET, path, body: nil,
                                                          headers: [("Authorization", credentials.authorization)],
                                                          timeoutSeconds: timeoutSeconds)
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
    func register(name: String, event: ZoneEvent, tls: HookTLS?, credentials: RedfishCredentials,
                  timeoutSeconds: Int) async -> String? {
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
        let registration = RedfishRegistration(transport: transport, credentials: credentials, timeoutSeconds: timeoutSeconds)
        let found: BMCFacts
        do {
            found = try await registration.register(hostname: name)
        } catch let changed as PinnedHTTPS.CertificateChanged {
            refused(name: name, event: event, changed)
            return "Redfish at \(address): \(changed); `zonectl bmcs forget \(name)` trusts the new one"
        } catch {
            // Connection refused while the BMC still boots, or an error status: tried again later.
            return "Redfish at \(address): \(error)"
        }
        let now = Int64(Date().timeIntervalSince1970)
        let discovered = HookEvents.bmcDiscovered(after: event, name: name, facts: found, at: now)
        do {
            try inventory.record(BMCRecord(name: name, address: address, mac: event.mac, hostname: name,
                                           manufacturer: found.manufacturer, model: found.model, serial: found.serial,
                                           biosVersion: found.biosVersion, bmcFirmware: found.bmcFirmware,
                                           registeredAt: now, certificateSHA256: pinned?.fingerprint),
                                 event: discovered)
        } catch {
            return "BMC \(name) registered, but its record cannot be written: \(error)"
        }
        logger.info("BMC \(name) registered over Redfish at \(address)",
                    metadata: ["serial": "\(found.serial ?? "-")", "model": "\(found.model ?? "-")",
                               "certificate_sha256": "\(pinned?.fingerprint ?? "CA-verified")"])
        return nil
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
