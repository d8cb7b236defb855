import ArgumentParser
import Boot
import Foundation
import Store
import Zone

struct Hosts: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts",
        abstract: "List the machines holding leases: where, what they said they are, and miscabling findings.",
        discussion: """
            KIND, MODEL and SERIAL are what each machine's DHCP request said (options 60, 77, 125, 61, 55). \
            MISCABLED marks a kind that does not fit its port's role, such as an iLO on a hypervisor port; \
            each finding is also a host.miscabled event.
            """)

    @OptionGroup var state: StateOptions

    @Flag(help: "Only machines whose kind does not fit their port.")
    var miscabled = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let leases: [Lease]
        do {
            leases = try SQLiteLeaseStore(stateDirectory: state.directory).loadLeases()
        } catch {
            throw fail("\(error)")
        }
        let now = Int64(Date().timeIntervalSince1970)
        let shown = leases.filter { (!miscabled || $0.miscabled) && $0.state != .offered }
            .sorted { a, b in
                // By location as people read ports (swp2 before swp10); discovery leases last, by address.
                switch (a.location, b.location) {
                case let (x?, y?): x < y
                case (.some, nil): true
                case (nil, .some): false
                case (nil, nil): a.address < b.address
                }
            }
        if json {
            try printJSON(shown.map { HostRow($0, now: now) })
            return
        }
        guard !shown.isEmpty else {
            print(miscabled ? "No miscabled machines in \(state.directory)." : "No leases in \(state.directory) yet.")
            return
        }
        let rows = [["ADDRESS", "NAME", "LOCATION", "STATE", "MAC", "KIND", "MODEL", "SERIAL", ""]] + shown.map { lease in
            let row = HostRow(lease, now: now)
            return [row.address, row.name ?? "-", row.location ?? "discovery", row.state, row.mac, row.kind ?? "-",
                    row.model ?? "-", row.serial ?? "-", row.miscabled ? "MISCABLED" : ""]
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces))
        }
    }
}

/// One lease as `zonectl hosts` shows it.
struct HostRow: Encodable {
    var address: String
    var name: String?
    var location: String?
    /// bound, released, declined; `expired` for a bound lease past its time.
    var state: String
    var mac: String
    var kind: String?
    var model: String?
    var serial: String?
    var miscabled: Bool

    init(_ lease: Lease, now: Int64) {
        address = lease.address.description
        name = lease.name
        location = lease.location?.description
        state = lease.state == .bound && lease.expiresAt <= now ? "expired" : lease.state.rawValue
        mac = MAC.text(lease.mac)
        kind = lease.device?.kind.rawValue
        model = lease.device?.model
        serial = lease.device?.serial
        miscabled = lease.miscabled
    }
}
