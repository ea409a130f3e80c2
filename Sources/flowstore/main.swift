import FlowStoreCLI

FlowStoreCommand.main()
