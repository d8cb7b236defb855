import ArgumentParser
import Foundation
import Zone

struct Example: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example",
        abstract: "Write a valid zone of any size, for trying things out and for benchmarks.",
        discussion: """
            Each rack gets a ToR (hosts on swp1…swpU) and a LoM switch (their BMCs), each \
            switch's management port on the other one; each pod gets servers, lom and mgmt \
            networks, all inside 198.18.0.0/15. `zonectl example --pods 25 --racks 10 --units 40` \
            is a 10,000-host zone. With -o DIR, the zone's templates and hook are written too.
            """)

    @Option(help: "Number of pods.")
    var pods = 1

    @Option(help: "Racks per pod.")
    var racks = 1

    @Option(help: "Units (hosts) per rack.")
    var units = 40

    @Option(help: "The zone's name.")
    var zone = "example"

    @Option(name: [.short, .customLong("output")], help: "Write DIR/<zone>.yaml with templates/ and hooks/ instead of printing the YAML.")
    var output: String?

    func run() throws {
        let yaml: String
        do {
            yaml = try ExampleZone.yaml(zone: zone, pods: pods, racks: racks, units: units)
        } catch {
            throw fail(error.description)
        }
        guard let output else {
            print(yaml, terminator: "")
            return
        }
        let files = ["\(zone).yaml": yaml].merging(ExampleZone.supportFiles) { a, _ in a }
        do {
            for (path, text) in files.sorted(by: { $0.key < $1.key }) {
                let url = URL(fileURLWithPath: output).appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: url, atomically: true, encoding: .utf8)
                if path.hasPrefix("hooks/") { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path) }
            }
        } catch {
            throw fail("cannot write to \(output): \(error.localizedDescription)")
        }
        print("Wrote \(output)/\(zone).yaml (\(pods * racks * units) hosts) with its templates and hook.")
    }
}
