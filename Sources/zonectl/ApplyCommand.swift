import ArgumentParser

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apply", abstract: "(not yet implemented)")

    func run() throws { throw ValidationError("zonectl apply is not implemented yet") }
}
