import Addressing
import Boot
import Foundation
import Logging
import NIOHTTP1
@testable import Server
import Store
import Synchronization
import Testing
import Zone

/// A Redfish service in memory: the service root is open, everything else wants the account's
/// current password; a PATCH of the account's Password changes it (or fails, as told).
private final class FakeBMC: RedfishTransport {
    struct Request: Equatable {
        var method: String
        var path: String
        var password: String?
        var body: String?
    }

    enum PasswordPatch { case applies, fails, appliesButAnswers500 }

    let address = "198.18.17.17"
    private let state: Mutex<(password: String, requests: [Request], patch: PasswordPatch)>

    init(password: String) { state = Mutex((password, [], .applies)) }

    var password: String {
        get { state.withLock { $0.password } }
        set { state.withLock { $0.password = newValue } }
    }
    var patch: PasswordPatch {
        get { state.withLock { $0.patch } }
        set { state.withLock { $0.patch = newValue } }
    }
    var requests: [Request] { state.withLock { $0.requests } }
    func forgetRequests() { state.withLock { $0.requests = [] } }

    private static let resources: [String: String] = [
        "/redfish/v1/": #"{"Systems": {"@odata.id": "/redfish/v1/Systems"}, "Managers": {"@odata.id": "/redfish/v1/Managers"}, "AccountService": {"@odata.id": "/redfish/v1/AccountService"}}"#,
        "/redfish/v1/Systems": #"{"Members": [{"@odata.id": "/redfish/v1/Systems/1"}]}"#,
        "/redfish/v1/Systems/1": #"{"SerialNumber": "CZ1234"}"#,
        "/redfish/v1/Managers": #"{"Members": [{"@odata.id": "/redfish/v1/Managers/1"}]}"#,
        "/redfish/v1/Managers/1": #"{"FirmwareVersion": "iLO 5"}"#,
        "/redfish/v1/AccountService": #"{"Accounts": {"@odata.id": "/redfish/v1/AccountService/Accounts"}}"#,
        "/redfish/v1/AccountService/Accounts": #"{"Members": [{"@odata.id": "/redfish/v1/AccountService/Accounts/1"}, {"@odata.id": "/redfish/v1/AccountService/Accounts/2"}]}"#,
        "/redfish/v1/AccountService/Accounts/1": #"{"UserName": "Administrator"}"#,
        "/redfish/v1/AccountService/Accounts/2": #"{"UserName": "zoneboot"}"#,
    ]

    func exchange(_ method: HTTPMethod, _ path: String, body: [UInt8]?, headers: [(String, String)],
                  timeoutSeconds: Int) async throws -> (status: UInt, body: [UInt8]) {
        let authorization = headers.first { $0.0 == "Authorization" }?.1
        let sent = authorization.flatMap { Data(base64Encoded: String($0.dropFirst("Basic ".count))) }
            .map { String(decoding: $0, as: UTF8.self) }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last.map(String.init) }
        let text = body.map { String(decoding: $0, as: UTF8.self) }
        return state.withLock { (state) -> (status: UInt, body: [UInt8]) in
            state.requests.append(Request(method: method.rawValue, path: path, password: sent, body: text))
            if path != "/redfish/v1/" && sent != state.password { return (401, []) }
            if method == .PATCH {
                guard path == "/redfish/v1/AccountService/Accounts/2",
                      let object = try? JSONSerialization.jsonObject(with: Data(body ?? [])) as? [String: String],
                      let new = object["Password"] else { return (204, []) }
                switch state.patch {
                case .applies: state.password = new; return (204, [])
                case .fails: return (500, [])
                case .appliesButAnswers500: state.password = new; return (500, [])
                }
            }
            guard let resource = Self.resources[path] else { return (404, []) }
            return (200, Array(resource.utf8))
        }
    }
}

/// Unused by these tests (the BMC is in memory), but a registrar has one; a global is never
/// deinitialized, so it needs no shutdown.
private let passwordTestClients = HookHTTPClients()

/// `password: rotate`: the shared (factory) password is replaced by one per BMC, kept in the
/// state directory before the BMC is asked to take it, and used from then on.
@Suite struct RedfishPasswordTests {
    let state: String
    let inventory: SQLiteBMCInventory
    let registrar: BMCRegistrar
    let shared = RedfishCredentials(username: "zoneboot", password: "factory-secret")
    let event = ZoneEvent(type: .leaseAcked, address: IPv4Address(198, 18, 17, 17), mac: "52:54:00:00:01:07",
                          name: "ams1-p01-r01-u07-lom", pod: "p01",
                          location: Location(pod: "p01", switch: "lom-1", port: "swp7"),
                          details: ["device_kind": "hpe-ilo"], at: 1_800_000_000)

    init() throws {
        state = FileManager.default.temporaryDirectory.appendingPathComponent("zoneboot-bmcpw-\(UUID().uuidString)").path
        inventory = try SQLiteBMCInventory(stateDirectory: state)
        registrar = BMCRegistrar(inventory: inventory, http: passwordTestClients, logger: Logger(label: "test"))
    }

    private func register(_ bmc: FakeBMC, _ password: HookPassword?) async -> String? {
        await registrar.register(name: "ams1-p01-r01-u07-lom", event: event, over: bmc, pinned: nil, credentials: shared,
                                 password: password, stateDirectory: state, timeoutSeconds: 5)
    }

    private var entryPath: String { "\(state)/bmc-passwords/ams1-p01-r01-u07-lom.json" }

    private func entry() throws -> BMCPasswords.Entry? { try BMCPasswords(stateDirectory: state).entry("ams1-p01-r01-u07-lom") }

    private func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test func theSharedPasswordIsReplacedOnceAndTheBMCsOwnIsUsedAfter() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let bmc = FakeBMC(password: shared.password)
        #expect(await register(bmc, .rotate) == nil)
        let own = bmc.password
        #expect(own != shared.password && own.count == 20)
        #expect(bmc.requests.filter { $0.path == "/redfish/v1/AccountService/Accounts/2" && $0.method == "PATCH" }
            .map(\.body) == [#"{"Password":"\#(own)"}"#])
        #expect(try entry() == BMCPasswords.Entry(username: "zoneboot", password: own, state: .current))
        #expect(try mode(entryPath) == 0o600 && mode("\(state)/bmc-passwords") == 0o700)
        #expect(try inventory.all().map(\.ownPassword) == [true])

        // The next registration logs in with the BMC's own password only, and changes nothing.
        bmc.forgetRequests()
        #expect(await register(bmc, .rotate) == nil)
        #expect(Set(bmc.requests.compactMap(\.password)) == [own])
        #expect(!bmc.requests.contains { $0.path.hasPrefix("/redfish/v1/AccountService") })
        #expect(bmc.password == own)
    }

    @Test func aBMCResetToTheSharedPasswordGetsANewOwnOne() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let bmc = FakeBMC(password: shared.password)
        #expect(await register(bmc, .rotate) == nil)
        let first = bmc.password
        bmc.password = shared.password
        #expect(await register(bmc, .rotate) == nil)
        #expect(bmc.password != first && bmc.password != shared.password)
        #expect(try entry()?.password == bmc.password)
    }

    @Test func aPendingPasswordIsTriedFirstAndOfferedAgainNotReplaced() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let bmc = FakeBMC(password: shared.password)
        bmc.patch = .fails
        let failed = await register(bmc, .rotate)
        #expect(failed?.contains("its password was not rotated") == true, "\(String(describing: failed))")
        let pending = try #require(try entry())
        #expect(pending.state == .pending && bmc.password == shared.password)
        #expect(try inventory.all().isEmpty)
        // The BMC still has the shared password: the pending one is refused, then offered again.
        bmc.patch = .applies
        #expect(await register(bmc, .rotate) == nil)
        #expect(bmc.password == pending.password)
        #expect(try entry() == BMCPasswords.Entry(username: "zoneboot", password: pending.password, state: .current))
    }

    @Test func aPasswordTakenButNotConfirmedIsFoundOnTheNextTry() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let bmc = FakeBMC(password: shared.password)
        bmc.patch = .appliesButAnswers500
        #expect(await register(bmc, .rotate) != nil)
        let taken = bmc.password
        #expect(taken != shared.password)
        #expect(try entry()?.state == .pending)
        bmc.forgetRequests()
        #expect(await register(bmc, .rotate) == nil)
        // Logged in with the pending password at once; nothing set again.
        #expect(bmc.requests.first { $0.path != "/redfish/v1/" }?.password == taken)
        #expect(!bmc.requests.contains { $0.method == "PATCH" && $0.path.hasPrefix("/redfish/v1/AccountService") })
        #expect(try entry() == BMCPasswords.Entry(username: "zoneboot", password: taken, state: .current))
    }

    @Test func withoutRotationNothingIsSetOrKept() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let bmc = FakeBMC(password: shared.password)
        #expect(await register(bmc, nil) == nil)
        #expect(bmc.password == shared.password)
        #expect(!bmc.requests.contains { $0.path.hasPrefix("/redfish/v1/AccountService") })
        #expect(!FileManager.default.fileExists(atPath: entryPath))
        #expect(try inventory.all().map(\.ownPassword) == [false])
    }

    @Test func generatedPasswordsMixCasesAndDigits() {
        for _ in 0..<200 {
            let password = BMCPasswords.generate()
            #expect(password.count == 20)
            #expect(password.contains(where: \.isUppercase) && password.contains(where: \.isLowercase)
                && password.contains(where: \.isNumber))
        }
    }
}
