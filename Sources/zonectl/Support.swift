import AdminAPI
import ArgumentParser
import Foundation
import Zone

/// Loads a zone file; on failure prints every diagnostic (with the offending lines)
/// to stderr and exits 1.
func loadZoneOrExit(_ path: String) throws -> ZoneRevision {
    do {
        return try ZoneLoader.load(path: path)
    } catch {
        printError(error.description, terminator: "")
        throw ExitCode.failure
    }
}

func printError(_ text: String, terminator: String = "\n") {
    FileHandle.standardError.write(Data((text + terminator).utf8))
}

/// JSON as scripts like it (`JSONStyle`, pretty), with a final newline.
func printJSON(_ value: some Encodable) throws {
    print(String(decoding: try JSONStyle.encoder(pretty: true).encode(value), as: UTF8.self))
}

/// Prints `error: message` to stderr; throw the result to exit 1 without a usage text
/// (ArgumentParser's ValidationError is for mistakes in the command line itself).
func fail(_ message: String) -> ExitCode {
    printError("error: \(message)")
    return ExitCode.failure
}

/// Columns padded to their widest cell, two spaces apart: every table zonectl prints.
/// Cells are terminal-escaped: tables show what machines sent (hosts, bmcs, events, leases).
func printTable(_ cells: [[String]]) {
    let rows = cells.map { $0.map(terminalEscaped) }
    guard let columns = rows.first?.count else { return }
    let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
        print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces))
    }
}
