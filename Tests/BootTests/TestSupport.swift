import Foundation

/// zones/ams1.yaml in this repository, found from this file's path.
let exampleZonePath: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path + "/zones/ams1.yaml"
}()
