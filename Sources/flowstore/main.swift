import FlowStoreCLI

// Not `FlowStoreCommand.main()`: top-level code would pick ArgumentParser's synchronous main.
await FlowStoreCommand.runProcess()
