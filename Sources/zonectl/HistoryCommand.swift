import ArgumentParser

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "(not yet implemented)")

    func run() throws { throw ValidationError("zonectl history is not implemented yet") }
}
