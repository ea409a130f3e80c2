import ArgumentParser

public struct FlowStoreCommand: ParsableCommand {
    public init() {}
}
