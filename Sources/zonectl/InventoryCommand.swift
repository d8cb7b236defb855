import ArgumentParser
import Boot
import Foundation
import Store
import Zone

/// Where the handoff commands find their zone and live state: a zone file, or the
/// latest revision applied to a state directory, whose leases are the live state.
struct HandoffSource: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The zone file (YAML).",
        discussion: "Default: $ZONEBOOT_ZONE, else the latest revision applied to the state directory."))
    var zone: String?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "State directory: applied revisions, and the leases that tell which hosts were seen.",
        discussion: "Default: $ZONEBOOT_STATE, else /var/lib/zoneboot. Read only; never created."))
    var stateDirectory: String?

    var directory: String { StateOptions.directory(stateDirectory) }

    private var databasePath: String { (directory as NSString).appendingPathComponent(ZoneBootDatabase.fileName) }

    /// The zone: the positional `file` (as every other command takes it), `--zone`, else
    /// $ZONEBOOT_ZONE, else the applied revision.
    func revision(file: String? = nil) throws -> ZoneRevision {
        if file != nil && zone != nil { throw fail("give the zone file once: as an argument or with --zone") }
        if let path = file ?? zone ?? ProcessInfo.processInfo.environment["ZONEBOOT_ZONE"], !path.isEmpty {
            return try loadZoneOrExit(path)
        }
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw fail("no zone: give --zone FILE, set ZONEBOOT_ZONE, or apply a revision to \(directory) "
                + "(--state-dir or ZONEBOOT_STATE)")
        }
        do {
            let store = try SQLiteRevisionStore(stateDirectory: directory)
            guard let stored = try store.latest() else {
                throw fail("no revision applied to \(directory) yet: give --zone FILE or run `zonectl apply`")
            }
            return try ZoneLoader.load(source: stored.source)
        } catch let exit as ExitCode {
            throw exit
        } catch let error as ZoneLoadError {
            throw fail("the latest revision in \(directory) no longer loads:\n\(error.description)")
        } catch {
            throw fail("\(error)")
        }
    }

    /// Identity name → what its latest lease tells; empty where the state directory has no database.
    func liveState() throws -> [String: HostLiveState] {
        guard FileManager.default.fileExists(atPath: databasePath) else { return [:] }
        do {
            let leases = try SQLiteLeaseStore(stateDirectory: directory).loadLeases()
            return HostLiveState.byName(leases, now: Int64(Date().timeIntervalSince1970))
        } catch {
            throw fail("cannot read the leases in \(databasePath): \(error)")
        }
    }
}

extension AnsibleInventory.Selection: ExpressibleByArgument {}

struct Inventory: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Print the zone as an Ansible inventory (dynamic-inventory JSON, or static YAML).",
        discussion: """
            Follows Ansible's inventory-script protocol: `--list` prints every group and, under \
            `_meta.hostvars`, every host's variables; `--host NAME` prints one host's variables. \
            contrib/zoneboot-inventory wraps this command so that `ansible-inventory -i \
            contrib/zoneboot-inventory --list` works as is. `--yaml` writes the same inventory for \
            Ansible's yaml plugin (save it as inventory.yaml).

            Groups: each role and each of its `ansible.groups`; each pod (pod_p01) with its racks \
            (p01_r01) as children; each switch (p01_tor_a: what is plugged into it). Host variables: \
            ansible_host (the address), fqdn, kind, pod, rack, unit, switch, switch_port, role, profile, \
            address, network, subnet, netmask, gateway, the role's `ansible.vars`, and from the leases \
            mac, lease_state, last_seen, lease_expires. The host's name is its inventory hostname \
            (Ansible reserves `name` and `port`). The group `all` holds zone, domain, dns, ntp, \
            boot_server and boot_url.
            """)

    @Argument(help: ArgumentHelp("The zone file (YAML), as every command takes it.",
                                 discussion: "Default: --zone, $ZONEBOOT_ZONE, else the latest revision applied to the state directory."))
    var zoneFile: String?

    @OptionGroup var source: HandoffSource

    @Flag(help: "Print every group and host (the default).")
    var list = false

    @Option(help: ArgumentHelp("Print one host's variables.", valueName: "name"))
    var host: String?

    @Flag(help: "Print a static YAML inventory instead of JSON.")
    var yaml = false

    @Option(name: [.customLong("hosts"), .customLong("state")],
            help: ArgumentHelp("Which hosts: all the zone defines, or those seen (that have taken a lease).",
                               discussion: "--state is its older name; the state directory is --state-dir.",
                               valueName: "all|seen"))
    var state: AnsibleInventory.Selection = .all

    @Flag(help: ArgumentHelp("Print to stderr how long loading the zone and building the inventory took.",
                             visibility: .hidden))
    var timings = false

    func validate() throws {
        if [list, host != nil, yaml].filter({ $0 }).count > 1 {
            throw ValidationError("give one of --list, --host NAME and --yaml")
        }
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let revision = try source.revision(file: zoneFile)
        let live = try source.liveState()
        let loaded = clock.now
        let cpuLoaded = Self.cpuTime()
        if let host {
            // One host, made alone (as zonebootd's /ansible/inventory/NAME): not the whole inventory.
            guard state == .all || live[host] != nil,
                  let vars = AnsibleInventory.hostJSON(named: host, in: revision, live: live[host]) else {
                let why = revision.identity(named: host) != nil ? " that has taken a lease (--state seen)" : ""
                throw fail("no host named '\(host)'\(why) in zone \(revision.zoneName)")
            }
            FileHandle.standardOutput.write(Data(vars))
            return
        }
        let inventory = AnsibleInventory(revision: revision, live: live, selection: state)
        if yaml {
            do {
                FileHandle.standardOutput.write(Data(try inventory.yaml().utf8))
            } catch {
                throw fail("cannot write the YAML inventory: \(error)")
            }
        } else {
            let built = clock.now
            let chunks = inventory.jsonChunks()
            if timings {
                // What the server does per request: build the inventory and write its JSON.
                // CPU time too: on a busy machine the wall clock says more about the neighbours.
                let written = clock.now
                let bytes = chunks.reduce(0) { $0 + $1.count }
                printError("inventory: \(inventory.hostCount) hosts, \(inventory.groupCount) groups, \(bytes) bytes of JSON "
                    + "in \(Self.milliseconds(written - loaded)) ms (built in \(Self.milliseconds(built - loaded)) ms, written in "
                    + "\(Self.milliseconds(written - built)) ms; CPU \(Self.milliseconds(Self.cpuTime() - cpuLoaded)) ms; "
                    + "zone and leases loaded in \(Self.milliseconds(loaded - started)) ms)")
            }
            do {
                // Written as they are: joined or made `Data`, 87 MB would be copied for nothing.
                for chunk in chunks { try FileHandle.standardOutput.write(contentsOf: chunk) }
            } catch {
                throw fail("cannot write the inventory: \(error)")
            }
            // Done: freeing a 100,000-host zone's revision and inventory object by object took
            // 0.07–0.1 s of the command's 1.6, for memory the exit gives back at once.
            Foundation.exit(0)
        }
    }
}

extension Inventory {
    /// CPU time this process has used (user and system).
    static func cpuTime() -> Swift.Duration {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
    }

    static func milliseconds(_ duration: Swift.Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.1f", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
    }
}

struct ChefNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chef-node",
        abstract: "Print a host's Chef first-boot JSON (what `chef-client -j` reads).",
        discussion: """
            The same document zonebootd serves at /chef/nodes/NAME.json: run_list and \
            chef_environment from the role's `chef`, the role's `chef.attributes` as top-level keys, \
            and the identity under `zoneboot`. chef-client takes run_list and chef_environment out and \
            makes every other top-level key a normal attribute (node['zoneboot']['rack']).
            """)

    @OptionGroup var source: HandoffSource

    @Argument(help: ArgumentHelp("[ZONE] NAME: the zone file (YAML), as every command takes it, and the identity's name (e.g. ams1-p01-r01-u07).",
                                 discussion: "Without ZONE: --zone, $ZONEBOOT_ZONE, else the latest revision applied to the state directory.",
                                 valueName: "zone-or-name"))
    var arguments: [String] = []

    /// NAME alone, or ZONE NAME.
    var name: String { arguments.last ?? "" }

    func validate() throws {
        guard (1...2).contains(arguments.count) else { throw ValidationError("give the identity's name, after the zone file: ZONE NAME") }
    }

    func run() throws {
        let revision = try source.revision(file: arguments.count == 2 ? arguments[0] : nil)
        guard let node = ChefNode(named: name, in: revision) else {
            throw fail("no identity named '\(name)' in zone \(revision.zoneName)")
        }
        FileHandle.standardOutput.write(Data(node.json()))
    }
}
