/// Compiled into every fuzz target. A broken invariant must be a crash libFuzzer sees
/// and saves the input of, not a silent `false`: `fatalError` traps and prints why.
func fuzzRequire(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    fatalError("fuzz invariant broken: \(message())")
}

/// The input libFuzzer hands over, as the byte array every codec takes.
func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}
