import ArgumentParser

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "render", abstract: "(not yet implemented)")

    func run() throws { throw ValidationError("zonectl render is not implemented yet") }
}
