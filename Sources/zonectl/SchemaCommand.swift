import ArgumentParser

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "schema", abstract: "(not yet implemented)")

    func run() throws { throw ValidationError("zonectl schema is not implemented yet") }
}
