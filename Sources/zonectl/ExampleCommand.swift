import ArgumentParser

struct Example: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "example", abstract: "(not yet implemented)")

    func run() throws { throw ValidationError("zonectl example is not implemented yet") }
}
