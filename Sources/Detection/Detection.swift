// Detection module
