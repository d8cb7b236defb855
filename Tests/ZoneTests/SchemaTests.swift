import Foundation
import Testing
@testable import Zone

/// The JSON Schema is checked by a validator nobody here wrote: Python's `jsonschema`.
@Suite struct SchemaTests {
    private static let checker = #"""
        import json, sys, yaml, jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        class Loader(yaml.SafeLoader):
            pass
        # YAML 1.1 would read the hook key `on` as a boolean; the zone format (like Yams for keys) means the word.
        Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != 'tag:yaml.org,2002:bool']
                                          for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
        for path in sys.argv[2:]:
            errors = list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.load(open(path), Loader=Loader)))
            print(path, "valid" if not errors else "invalid: " + "; ".join(e.message for e in errors))
        """#

    private func check(_ zones: [String: String]) throws -> [String: String] {
        let dir = NSTemporaryDirectory() + "zoneboot-schema-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ZoneSchema.jsonSchema().write(toFile: "\(dir)/schema.json", atomically: true, encoding: .utf8)
        try Self.checker.write(toFile: "\(dir)/check.py", atomically: true, encoding: .utf8)
        var paths: [String] = []
        for (name, text) in zones {
            try text.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
            paths.append("\(dir)/\(name)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["\(dir)/check.py", "\(dir)/schema.json"] + paths
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(text)")
        var results: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { results[(String(parts[0]) as NSString).lastPathComponent] = String(parts[1]) }
        }
        return results
    }

    @Test func exampleZonesAreValidAgainstTheSchema() throws {
        let results = try check(["ams1.yaml": exampleZoneText,
                                 "generated.yaml": try ExampleZone.yaml(pods: 2, racks: 2, units: 3)])
        #expect(results["ams1.yaml"] == "valid")
        #expect(results["generated.yaml"] == "valid")
    }

    @Test func theSchemaRejectsWhatTheParserRejects() throws {
        let results = try check([
            "typo.yaml": editedExample([("remote-id: \"p01-tor-a\"", "remoteid: \"p01-tor-a\"")]),
            "address.yaml": editedExample([("boot-server: 198.18.0.10", "boot-server: 198.18.0.256")]),
            "event.yaml": editedExample([("on: [lease.acked]", "on: [lease.stolen]")]),
            "missing.yaml": editedExample([("zone: ams1\n", "")]),
        ])
        #expect(results["typo.yaml"]?.contains("'remoteid' was unexpected") == true, "\(results)")
        #expect(results["address.yaml"]?.hasPrefix("invalid") == true)
        #expect(results["event.yaml"]?.hasPrefix("invalid") == true)
        #expect(results["missing.yaml"]?.contains("'zone' is a required property") == true)
    }
}
