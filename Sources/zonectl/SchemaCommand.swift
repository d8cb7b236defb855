import ArgumentParser
import Zone

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the zone file's JSON Schema, for editors that validate and complete YAML.",
        discussion: """
            Save it next to your zones (`zonectl schema > zone.schema.json`) and point the YAML \
            language server at it with a first line in the zone file: \
            `# yaml-language-server: $schema=zone.schema.json`. The schema and `zonectl validate` \
            come from one definition; validate also checks what a schema cannot (collisions, references).
            """)

    func run() throws { print(ZoneSchema.jsonSchema()) }
}
