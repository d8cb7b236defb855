import ArgumentParser
import Foundation
import Zone

struct Example: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example",
        abstract: "Generate a valid zone of any size, for trying things out and for benchmarks.",
        discussion: """
            Every rack gets a ToR (hosts on swp1…swpU, units 1…U) and a LoM switch (their BMCs on \
            the same ports); each switch's management port (swp<U+8>) is plugged into the other. \
            Every pod gets one aggregate prefix holding its servers, lom and mgmt networks, packed \
            from the first address of --network (198.18.0.0/15 unless given) up; the zone's services \
            (boot server, DNS, NTP) are in its last /24 (198.19.255.0/24). Sizes that do not fit in \
            the network are refused, saying how many pods of that size it holds.

            Without -o the zone file is printed, alone: it names templates and a hook that only -o \
            writes, so it does not validate by itself (a note on standard error says so). With -o DIR, \
            DIR/<zone>.yaml is written together with the templates and the hook it names, so \
            `zonectl validate DIR/<zone>.yaml` works at once. The output depends only on the options.

            Examples: one rack of 40, shaped like zones/ams1.yaml; then 10,000 hosts.
              zonectl example --pods 1 --racks 1 --units 40
              zonectl example --pods 25 --racks 10 --units 40 -o /tmp/big
            And 100,000 hosts, which need more than 198.18.0.0/15:
              zonectl example --pods 250 --racks 10 --units 40 --network 10.0.0.0/8 -o /tmp/huge
            """)

    @Option(help: ArgumentHelp("Number of pods (p01, p02, …).", valueName: "P"))
    var pods = 1

    @Option(help: ArgumentHelp("Racks per pod, each with a ToR and a LoM switch.", valueName: "R"))
    var racks = 1

    @Option(help: ArgumentHelp("Units (hosts) per rack, at most \(ExampleZone.units.upperBound).", valueName: "U"))
    var units = 40

    @Option(help: ArgumentHelp("The network the pods and services are laid out in (default \(ExampleZone.space)).",
                               valueName: "CIDR"))
    var network: String?

    @Option(help: ArgumentHelp("The zone's name.", valueName: "NAME"))
    var zone = ExampleZone.defaultZone

    @Option(name: [.short, .customLong("output")],
            help: ArgumentHelp("Write DIR/<zone>.yaml, DIR/templates/ and DIR/hooks/ instead of printing the zone.",
                               valueName: "DIR"))
    var output: String?

    @Flag(help: "With -o, replace a zone file that already exists.")
    var force = false

    func run() throws {
        let yaml: String
        do {
            let space = try network.map(ExampleZone.network) ?? ExampleZone.space
            yaml = try ExampleZone.yaml(zone: zone, pods: pods, racks: racks, units: units, network: space)
        } catch {
            throw fail(error.description)
        }
        guard let output else {
            print(yaml, terminator: "")
            FileHandle.standardError.write(Data("""
                zonectl example: printed the zone file only; it names files under templates/ and hooks/ that are \
                not printed, so it validates only beside them. `zonectl example -o DIR` writes all of it.

                """.utf8))
            return
        }
        let zoneFile = "\(output)/\(zone).yaml"
        if !force && FileManager.default.fileExists(atPath: zoneFile) {
            throw fail("\(zoneFile) already exists; pass --force to replace it")
        }
        let files = ExampleZone.templates.merging(["\(zone).yaml": yaml]) { _, zone in zone }
        for (path, text) in files.sorted(by: { $0.key < $1.key }) {
            let target = "\(output)/\(path)"
            do {
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                try text.write(toFile: target, atomically: true, encoding: .utf8)
                if ExampleZone.executables.contains(path) {
                    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: target)
                }
            } catch {
                throw fail("cannot write \(target): \(error.localizedDescription)")
            }
        }
        let hosts = pods * racks * units
        print("Wrote \(zoneFile): \(pods) pod(s), \(2 * pods * racks) switches, \(hosts) hosts, \(hosts) BMCs; "
            + "with \(files.count - 1) template and hook file(s) beside it.")
    }
}
