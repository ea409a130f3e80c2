import FlowStoreCLI

await FlowStoreCommand.main()
