import ArgumentParser

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "(not yet implemented)")

    func run() throws { throw ValidationError("zonectl validate is not implemented yet") }
}
