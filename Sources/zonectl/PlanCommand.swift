import ArgumentParser

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "(not yet implemented)")

    func run() throws { throw ValidationError("zonectl plan is not implemented yet") }
}
