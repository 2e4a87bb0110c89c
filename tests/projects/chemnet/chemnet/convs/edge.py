from chemnet.conv import MaxBase, SumBase, Walker


class EdgeMax(MaxBase):
    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)


class EdgeSum(SumBase):
    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)


class EdgeMin(SumBase):
    aggr_name = "min"

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)


class EdgeMean(MaxBase):
    def __init__(self):
        super().__init__(aggr="mean")

    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)


class Walk(Walker):
    def forward(self, x):
        return self.propagate(x)
