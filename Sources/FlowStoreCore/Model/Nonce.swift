/// Random text that makes an object unique where its content alone would not be: a new file
/// (two flows created alike at one path stay two files) and a batch's new files.
enum Nonce {
    /// 16 hex characters from the system's random source (`getrandom` on Linux).
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
